"""Unsupervised environment design: the level buffer of Prioritized Level Replay and the regret scores that
rank levels (``buffer``, ``scores``); level mutations live with the grid levels (``envs/grid/mutate.py``)."""
