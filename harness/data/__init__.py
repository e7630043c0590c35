"""Data: the pinned hub commits (hub.py), the tracks and their test sets (mini, ACL 60/60, IWSLT
2026), audio reading and writing, the organizers' long-form layout, and local training corpora
(CoVoST 2, Europarl-ST)."""
