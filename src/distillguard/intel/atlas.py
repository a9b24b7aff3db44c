"""MITRE ATLAS techniques and tactics, shipped with the package (no fetching at run time).

``data/atlas_techniques.json`` is derived from MITRE ATLAS ``ATLAS.yaml`` (Apache-2.0,
copyright MITRE; see ``data/ATLAS-NOTICE.md``): for each tactic and technique it keeps the
id, name, parent technique, tactics, maturity and the first paragraph of the description.
Rebuild it from a newer release with::

    python -m distillguard.intel.atlas ../shared/data/atlas/ATLAS.yaml
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from distillguard.errors import InputError

ATLAS_URL = "https://atlas.mitre.org"
DATA_FILE = "atlas_techniques.json"


@dataclass(frozen=True, slots=True)
class Technique:
    """One ATLAS technique (or sub-technique) or tactic."""

    id: str
    name: str
    kind: str
    parent: str | None
    tactics: tuple[str, ...]
    maturity: str | None
    summary: str

    @property
    def url(self) -> str:
        """The technique's page on the ATLAS site."""
        section = "tactics" if self.kind == "tactic" else "techniques"
        return f"{ATLAS_URL}/{section}/{self.id}"

    def external_reference(self) -> dict[str, str]:
        """A STIX ``external_reference`` naming this technique in ``mitre-atlas``."""
        return {"source_name": "mitre-atlas", "external_id": self.id, "url": self.url}


@dataclass(frozen=True, slots=True)
class Atlas:
    """The shipped ATLAS data: version and every tactic and technique by id."""

    version: str
    entries: dict[str, Technique]

    def get(self, atlas_id: str) -> Technique | None:
        """The entry for ``atlas_id`` (e.g. ``AML.T0024.002``), or None if unknown."""
        return self.entries.get(atlas_id.strip())

    def technique(self, atlas_id: str) -> Technique:
        """The technique for ``atlas_id``.

        Raises:
            InputError: the id is not in the shipped ATLAS data.
        """
        found = self.get(atlas_id)
        if found is None:
            raise InputError(f"unknown MITRE ATLAS id {atlas_id!r} (ATLAS {self.version})")
        return found


@lru_cache(maxsize=1)
def load_atlas() -> Atlas:
    """Load the ATLAS data shipped in ``distillguard/intel/data``."""
    text = resources.files("distillguard.intel").joinpath("data", DATA_FILE).read_text("utf-8")
    raw = json.loads(text)
    entries = {
        e["id"]: Technique(
            id=e["id"],
            name=e["name"],
            kind=e["kind"],
            parent=e.get("parent"),
            tactics=tuple(e.get("tactics", ())),
            maturity=e.get("maturity"),
            summary=e.get("summary", ""),
        )
        for e in raw["entries"]
    }
    return Atlas(version=str(raw["version"]), entries=entries)


def _first_paragraph(text: str, limit: int = 400) -> str:
    para = " ".join(text.strip().split("\n\n")[0].split())
    return para if len(para) <= limit else para[: limit - 1].rstrip() + "…"


def build_data(atlas_yaml: Path) -> dict[str, Any]:
    """Derive the shipped JSON from an ``ATLAS.yaml`` release."""
    import yaml

    doc = yaml.safe_load(atlas_yaml.read_text("utf-8"))
    matrix = doc["matrices"][0]
    entries: list[dict[str, Any]] = []
    for tac in matrix["tactics"]:
        entries.append(
            {
                "id": tac["id"],
                "name": tac["name"],
                "kind": "tactic",
                "summary": _first_paragraph(tac.get("description", "")),
            }
        )
    for tech in matrix["techniques"]:
        entry: dict[str, Any] = {
            "id": tech["id"],
            "name": tech["name"],
            "kind": "technique",
            "summary": _first_paragraph(tech.get("description", "")),
        }
        if tech.get("subtechnique-of"):
            entry["parent"] = tech["subtechnique-of"]
        if tech.get("tactics"):
            entry["tactics"] = list(tech["tactics"])
        if tech.get("maturity"):
            entry["maturity"] = tech["maturity"]
        entries.append(entry)
    return {
        "source": "MITRE ATLAS ATLAS.yaml (mitre-atlas/atlas-data), Apache-2.0, (c) MITRE",
        "version": str(doc.get("version", "")),
        "entries": entries,
    }


def main(argv: list[str]) -> int:
    """Rebuild the shipped data file from the ``ATLAS.yaml`` named in ``argv``."""
    if len(argv) != 1:
        print("usage: python -m distillguard.intel.atlas ATLAS.yaml", file=sys.stderr)
        return 2
    out = Path(__file__).parent / "data" / DATA_FILE
    data = build_data(Path(argv[0]))
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {len(data['entries'])} entries (ATLAS {data['version']}) to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
