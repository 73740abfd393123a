"""jaxrl-suite learners (installed as ``jaxrl_suite.algos``)."""
