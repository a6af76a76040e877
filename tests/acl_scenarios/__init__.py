"""ACL and authentication scenarios written once against kazoo's API, run
through kazoo against a real ZooKeeper and through coord_client against coord
(tests/test_acl_vs_zookeeper.py), so that coord's rules are ZooKeeper's own.

Each scenario is a function `(target, rec)`: `target(*credentials)` opens a
session (digest `user:password` credentials given at start) and
`target.security` is the client's `security` module; `rec(label, call, ...)`
records what a step gave: its value made comparable, or the class name of
the exception it raised (kazoo's and coord_client's share names). Every
scenario works under its own top-level node, named after it.

Where coord deliberately follows a later ZooKeeper than the one tested,
`rec.differs` runs the step with the outcome each side is expected to give,
so the step stays in the comparison instead of being dropped.

The scenarios live in one module per subject; SCENARIOS is the one list
tests/test_acl_vs_zookeeper.py runs, in this order.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.acl_scenarios.acl_ids import empty_acl, invalid_ids, ip_acls, ip_ids, x509_ids
from tests.acl_scenarios.authentication import (
    add_auth_refused,
    auth_order,
    auth_scheme,
    colonless_digest,
    digest_owner,
    refused_at_start,
    unicode_credentials,
    x509_subjects,
)
from tests.acl_scenarios.clients import SUPER, Target
from tests.acl_scenarios.permissions import (
    create_only_parent,
    get_acls_rules,
    make_parents,
    parent_permissions,
    set_acls_rules,
    super_user,
    transactions,
    write_only,
)
from tests.acl_scenarios.recording import Recorder
from tests.acl_scenarios.watches import (
    one_shot_watches,
    persistent_watches,
    watch_then_authenticate,
    watches_across_acl_changes,
)

__all__ = ["SCENARIOS", "SUPER", "Recorder", "Target", "x509_subjects"]

SCENARIOS: list[Callable[[Target, Recorder], None]] = [
    digest_owner, add_auth_refused, refused_at_start, unicode_credentials, colonless_digest,
    auth_scheme, auth_order, empty_acl, invalid_ids, ip_ids, x509_ids, parent_permissions,
    set_acls_rules, get_acls_rules, one_shot_watches, watches_across_acl_changes,
    watch_then_authenticate, write_only, persistent_watches, transactions, super_user, ip_acls,
    create_only_parent, make_parents,
]  # fmt: skip
