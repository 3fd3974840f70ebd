"""Link buttons: Slack still sends a `block_actions` request when one is clicked.

Unacknowledged, Bolt answers 404 and Slack shows a warning icon next to the button, so every
`link_*` action is acknowledged here and nothing else happens (the browser opened the URL).
"""

from __future__ import annotations

import re

from slack_bolt import Ack, App

from blocks import ids


def register(app: App) -> None:
    """Acknowledge every link button the notifications and answers carry."""
    app.action(re.compile("^" + re.escape(ids.LINK_PREFIX)))(handle_link)


def handle_link(ack: Ack) -> None:
    """Nothing to do but say so."""
    ack()
