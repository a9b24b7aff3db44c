"""The response transform the gateway applies: keyed lexical watermark per account cohort.

The gateway calls ``WatermarkTransform.transform(text, account_id)`` on every response
body it returns (for black-box upstreams, where logits cannot be touched). Each account is
mapped to a *scope*: by default one of ``cohorts`` stable buckets (a keyed hash of the
account id, so the bucket cannot be guessed), or a per-account scope for accounts the policy
has flagged (``flag_account``), so that a later positive test names the bucket or the account
that harvested the text. Only key ids ever leave this object.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterable

from distillguard.errors import WatermarkError
from distillguard.watermark.config import WatermarkConfig
from distillguard.watermark.keys import KeyRing, MasterSecret
from distillguard.watermark.lexical import LexicalWatermark, SynonymTable

SCHEME = "lexical"


class WatermarkTransform:
    """Per-account keyed lexical watermark for response text.

    Args:
        master: the provider's master secret.
        cohorts: number of stable cohort buckets accounts are hashed into (>= 1).
        flagged: accounts that get their own key (scope ``account:<id>``).
        table: synonym table (default: shipped).

    Example::

        wm = WatermarkTransform(MasterSecret.load("/etc/distillguard/master.key"))
        body = wm.transform(body, account_id="acct_42")
    """

    def __init__(
        self,
        master: MasterSecret,
        *,
        cohorts: int = 64,
        flagged: Iterable[str] = (),
        table: SynonymTable | None = None,
    ) -> None:
        if cohorts < 1:
            raise WatermarkError(f"cohorts must be >= 1, got {cohorts}")
        self.master = master
        self.cohorts = cohorts
        self.table = table or SynonymTable.default()
        self._flagged = set(flagged)
        self._bucket_key = master.derive("cohort:__bucketing__", "bucketing").material
        self._cache: dict[str, LexicalWatermark] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: WatermarkConfig) -> WatermarkTransform:
        """Build from the ``[watermark]`` section (reads the master secret file)."""
        if config.master_secret_file is None:
            raise WatermarkError("[watermark] master_secret_file is not set")
        return cls(MasterSecret.load(config.master_secret_file), cohorts=config.cohorts)

    def flag_account(self, account_id: str) -> None:
        """Give ``account_id`` its own key from now on (e.g. when policy flags it)."""
        with self._lock:
            self._flagged.add(account_id)

    def scope_for(self, account_id: str) -> str:
        """The key scope used for ``account_id``."""
        if account_id in self._flagged:
            return f"account:{account_id}"
        digest = hmac.new(self._bucket_key, account_id.encode(), hashlib.sha256).digest()
        return f"cohort:bucket-{int.from_bytes(digest[:8], 'little') % self.cohorts:03d}"

    def all_scopes(self) -> list[str]:
        """Every scope in use (all buckets, then flagged accounts): what an audit tests."""
        scopes = [f"cohort:bucket-{i:03d}" for i in range(self.cohorts)]
        return scopes + sorted(f"account:{a}" for a in self._flagged)

    def key_ring(self) -> KeyRing:
        """Keys of :meth:`all_scopes`, for detection with multiple-testing correction."""
        return KeyRing.derive(self.master, self.all_scopes(), SCHEME)

    def marker(self, account_id: str) -> LexicalWatermark:
        """The :class:`LexicalWatermark` used for ``account_id`` (cached per scope)."""
        scope = self.scope_for(account_id)
        with self._lock:
            wm = self._cache.get(scope)
            if wm is None:
                wm = LexicalWatermark(self.master.derive(scope, SCHEME), self.table)
                self._cache[scope] = wm
        return wm

    def transform(self, text: str, account_id: str) -> str:
        """Return ``text`` watermarked for ``account_id``'s scope (same length class, same
        meaning); empty text is returned unchanged."""
        if not text:
            return text
        return self.marker(account_id).apply(text)

    def key_id_for(self, account_id: str) -> str:
        """Public key id used for ``account_id`` (to log with the event, never the key)."""
        return self.marker(account_id).key.key_id
