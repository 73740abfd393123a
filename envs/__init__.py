"""jaxrl-suite environment families (installed as ``jaxrl_suite.envs``); importing registers their ids."""
