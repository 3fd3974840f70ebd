"""The ledger in the store: read and change its records with compare-and-swap, list them.

What the records mean and how events fold into them is bot/domain/ledger.py (pure); here they
are read and written. A notification changes one record with one conditional write; a
lookup's result is written back the same way, so the next reader starts from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from bot.domain.ledger import (
    ACTIVITY,
    NAMES_MAX_BYTES,
    DeploymentLink,
    Entry,
    GroupEntry,
    Names,
    PipelineEntry,
    deployment_key,
    dump_entry,
    fold,
    group_key,
    listed,
    load_entry,
    merge_accounts,
    merge_group_accounts,
    names_key,
    pipeline_key,
    record_key,
)
from bot.domain.model import Deployment
from bot.store import Record, Store, StoreError

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 10
E = TypeVar("E", bound=Entry)


class Ledger:
    """The ledger's records in one store."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def now(self) -> float:
        """The ledger's clock (seconds since 1970)."""
        return self._clock()

    def record(self, event: Deployment) -> None:
        """Fold a notification into its one record; a store failure is logged, not raised.

        The notification reaches Slack either way: the ledger only helps later lookups.
        """
        key = record_key(event)
        if not key:
            return
        try:
            self.change(key, lambda entry: fold(entry, event, self._clock()))
        except StoreError:
            logger.exception("could not record %s in the ledger", key)

    def change(self, key: str, change: Callable[[Entry | None], Entry | None]) -> Entry | None:
        """Apply `change` to a record with compare-and-swap; None from `change` writes nothing.

        Returns the entry as stored afterwards. StoreError when the store fails or stays busy.
        """
        for _ in range(CAS_ATTEMPTS):
            record = self._store.get(key) or Record(key)
            current = load_entry(key, record.body) if record.version else None
            changed = change(current)
            if changed is None:
                return current
            written = replace(record, body=dump_entry(changed), listed=listed(changed))
            if self._store.put(written):
                return changed
        raise StoreError(f"could not change {key}: too much contention")

    def get(self, key: str, kind: type[E]) -> E | None:
        """The entry under `key` if it is a `kind`."""
        record = self._store.get(key)
        entry = load_entry(key, record.body) if record else None
        return entry if isinstance(entry, kind) else None

    def listing(self) -> tuple[list[PipelineEntry], list[GroupEntry]]:
        """Every pipeline and deployment group in the ledger, in one query (StoreError if not)."""
        pipelines: list[PipelineEntry] = []
        groups: list[GroupEntry] = []
        for record in self._store.query(ACTIVITY):
            entry = load_entry(record.key, record.body)
            if isinstance(entry, PipelineEntry):
                pipelines.append(entry)
            elif isinstance(entry, GroupEntry):
                groups.append(entry)
        return merge_accounts(pipelines), merge_group_accounts(groups)

    def pipeline(self, account: str, region: str, name: str) -> PipelineEntry | None:
        """A pipeline's entry: the account's own, else the one a lookup without account made."""
        for owner in dict.fromkeys((account, "")):
            entry = self.get(pipeline_key(owner, region, name), PipelineEntry)
            if entry is not None:
                return entry
        return None

    def execution_of(
        self, account: str, region: str, deployment_id: str, application: str, group: str
    ) -> DeploymentLink | None:
        """Which pipeline execution started a deployment, if an event or a lookup said so."""
        link = self.get(deployment_key(account, region, deployment_id), DeploymentLink)
        if link is not None:
            return link
        entry = self.get(group_key(account, region, application, group), GroupEntry)
        for deployment in entry.deployments if entry else ():
            if deployment.deployment_id == deployment_id and deployment.execution_id:
                return DeploymentLink(deployment_id, deployment.pipeline, deployment.execution_id)
        return None

    def names(self, account: str, region: str) -> Names | None:
        """The pipeline names last listed in this account and region."""
        return self.get(names_key(account, region), Names)

    def put_names(self, account: str, region: str, names: Names) -> None:
        """Keep a fresh `list_pipelines` answer (a newer one already there wins), unless it is
        too long for one record: then each container lists the names itself."""
        if len(dump_entry(names).encode()) > NAMES_MAX_BYTES:
            logger.warning(
                "%d pipeline names in %s are too many to keep in the ledger",
                len(names.names),
                region,
            )
            return
        self.change(
            names_key(account, region),
            lambda old: (
                names if not isinstance(old, Names) or old.listed_at < names.listed_at else None
            ),
        )
