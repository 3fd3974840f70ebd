"""action_id values shared by the builders and the listeners that acknowledge them."""

from __future__ import annotations

LINK_COMMIT = "link_commit"
LINK_BRANCH = "link_branch"
LINK_SITE = "link_site"
LINK_CONSOLE = "link_console"
LINK_DETAILS = "link_details"

# Every link button's action_id starts with this, so one listener can acknowledge them all.
LINK_PREFIX = "link_"

# The "Share in channel" button under a /deploy-status answer; its value is the query.
SHARE_STATUS = "share_status"

# The "Next" button under a /deploy-status list; its value is {"q": query, "p": page}.
STATUS_NEXT = "status_next"

# The "Roll back" button of a deployment message; its value is the target (bot/domain/rollback.py).
ROLLBACK = "rollback"
# In a rollback's thread: open the frozen deploy stage again; clear a claim AWS cannot resolve.
ROLLBACK_UNFREEZE = "rollback_unfreeze"
ROLLBACK_CLEAR = "rollback_clear"

# A manual approval's buttons (their value names the approval: bot/domain/approvals.py); each
# opens the modal whose callback_id is APPROVAL_MODAL.
APPROVE = "approval_approve"
REJECT = "approval_reject"
APPROVAL_MODAL = "approval_answer"

# A blue/green deployment waiting for a person: reroute traffic, finish, or stop and roll back.
TRAFFIC_REROUTE = "traffic_reroute"
TRAFFIC_FINISH = "traffic_finish"
TRAFFIC_STOP = "traffic_stop"

# Close or open a pipeline's deploy stage (its inbound transition).
FREEZE = "stage_freeze"
UNFREEZE = "stage_unfreeze"

# The metadata event_type of every message deploybot posts: how a lost post is found again.
METADATA_EVENT_TYPE = "deploybot_notification"
