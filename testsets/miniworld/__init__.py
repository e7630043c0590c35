"""The mini world: a compositional EN->DE/ZH grammar spoken by espeak-ng.

It plays the shared task's data on a CPU: "general" plays CoVoST2 (large, out of
domain) and "talks" plays ACL 60/60 (884 in-domain utterances, 784/100 split).
"""
