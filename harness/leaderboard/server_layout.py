"""The IWSLT 2026 evaluation server's submission layout, shared by export (which writes it) and
import-hyps (which reads it back and scores it as the server would).

The server (SPEECHM) registers each direction as its own model, named
``${TEAM}_IWSLT26_ModelCompression_${LANGUAGE_PAIR}_${CONDITION}_${SUBMISSION_TYPE}``; a model's
folder holds one plain UTF-8 ``<testset>.txt`` per test set; ``manifest.json`` beside the
folders is the harness's record of the export.
"""

from __future__ import annotations

import re

MANIFEST = "manifest.json"
CONDITIONS = ("constrained", "unconstrained")
TYPES = ("primary", "contrastive")
MODEL_NAME = "{team}_IWSLT26_ModelCompression_en-{lang}_{condition}_{type}"
# The inverse of MODEL_NAME: anchored at the end, so a team name may hold underscores.
MODEL_NAME_RE = re.compile(r"(?P<team>[A-Za-z0-9][A-Za-z0-9._-]*)_IWSLT26_ModelCompression_en-(?P<lang>[a-z]+)"
                           r"_(?P<condition>constrained|unconstrained)_(?P<type>primary|contrastive)")
SUFFIX = ".txt"
