"""Pure wrappers over the gymnax protocol; see each module for semantics."""

from jaxrl_suite.wrappers.actions import ClipAction, RescaleAction
from jaxrl_suite.wrappers.base import StatefulWrapper, Wrapper
from jaxrl_suite.wrappers.framestack import FrameStack
from jaxrl_suite.wrappers.gymnasium import to_gymnasium
from jaxrl_suite.wrappers.normalize import (
    NormalizeObservation,
    NormalizeReward,
    RunningMeanStd,
    normalize_reward,
)
from jaxrl_suite.wrappers.stats import EpisodeStatistics, mean_finished
from jaxrl_suite.wrappers.stochastic import (
    ActionCorruption,
    ObservationNoise,
    RandomInitialState,
    RewardNoise,
    SlipperyTransitions,
    StickyActions,
)
from jaxrl_suite.wrappers.timelimit import TimeLimit

__all__ = [
    "ActionCorruption",
    "ClipAction",
    "EpisodeStatistics",
    "FrameStack",
    "NormalizeObservation",
    "NormalizeReward",
    "ObservationNoise",
    "RandomInitialState",
    "RescaleAction",
    "RewardNoise",
    "SlipperyTransitions",
    "RunningMeanStd",
    "StatefulWrapper",
    "StickyActions",
    "TimeLimit",
    "Wrapper",
    "mean_finished",
    "normalize_reward",
    "to_gymnasium",
]
