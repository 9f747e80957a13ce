"""What the privacy code writes in place of what it hides, and how far it reads.

The tokens are the collector's too (collector/scrubbing.py): a secret, or any value under a
secret key, is REDACTED; personal data found in free text is masked by kind.
"""

HASH_PREFIX = "sha256:"

REDACTED = "[REDACTED]"
EMAIL_MASK = "[email]"
CARD_MASK = "[card]"
IBAN_MASK = "[iban]"
PHONE_MASK = "[phone]"
NAME_MASK = "[name]"

# Long enough for a ReAct observation or a drafted answer; a pasted document gets cut.
MAX_STRING = 4000
# Enough for every ReAct iteration of a normal run and every retrieval hit.
MAX_ITEMS = 200
# Workflow states are a few levels deep; anything deeper is a loop we did not see as one.
MAX_DEPTH = 32
