"""Documents patients share with the practice: download, verify, scan, hand to the PMS.

Qt-free, one job per module: :mod:`.states` (the state machine), :mod:`.download`
(listing, resumable downloads), :mod:`.verify` (decrypt, the pinned signer),
:mod:`.content` (the type by content, active PDF content), :mod:`.scan` (clamd,
Defender, a configured command), :mod:`.handover` (PMS import folder + GDT 6310),
:mod:`.actions` (release, discard), :mod:`.job` (runs it all in the agent).
"""
