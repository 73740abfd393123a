"""gymnax's environments, registered under their own ids; gymnax >= 1.0 already speaks our API."""

from __future__ import annotations

GYMNAX_ENVS = {
    "CartPole-v1": "classic control: balance a pole on a cart (discrete, 500 steps)",
    "Pendulum-v1": "classic control: swing up a pendulum (continuous torque)",
    "Acrobot-v1": "classic control: swing a two-link arm above a line (discrete)",
    "MountainCar-v0": "classic control: drive an underpowered car up a hill (discrete)",
    "MountainCarContinuous-v0": "classic control: mountain car with continuous force",
    "Asterix-MinAtar": "MinAtar Asterix: collect gold, avoid enemies (10x10x4 image)",
    "Breakout-MinAtar": "MinAtar Breakout: bounce a ball to break bricks (10x10x4 image)",
    "Freeway-MinAtar": "MinAtar Freeway: cross a busy road (10x10x7 image)",
    "Seaquest-MinAtar": "MinAtar Seaquest: shoot, rescue divers, surface for air (10x10x10 image)",
    "SpaceInvaders-MinAtar": "MinAtar Space Invaders: shoot descending aliens (10x10x6 image)",
    "Catch-bsuite": "bsuite Catch: catch a falling ball",
    "DeepSea-bsuite": "bsuite DeepSea: hard-exploration chain in a grid",
    "MemoryChain-bsuite": "bsuite MemoryChain: recall a context bit after a delay",
    "UmbrellaChain-bsuite": "bsuite UmbrellaChain: long-term credit assignment",
    "DiscountingChain-bsuite": "bsuite DiscountingChain: reward at varying delays",
    "MNISTBandit-bsuite": "bsuite MNIST bandit: classify an MNIST digit",
    "SimpleBandit-bsuite": "bsuite simple bandit",
    "FourRooms-misc": "four-room navigation (Sutton et al. 1999)",
    "MetaMaze-misc": "maze with a goal that changes between episodes",
    "PointRobot-misc": "point robot reaching a goal (meta-RL)",
    "BernoulliBandit-misc": "Bernoulli multi-armed bandit (meta-RL)",
    "GaussianBandit-misc": "Gaussian multi-armed bandit (meta-RL)",
    "Reacher-misc": "two-link arm reaching a goal",
    "Swimmer-misc": "multi-link swimmer",
    "Pong-misc": "two-paddle Pong",
    "FrozenLake-misc": "FrozenLake grid with slippery ice",
}


def make_gymnax(env_id: str, **kwargs):
    import gymnax

    env, _ = gymnax.make(env_id, **kwargs)
    return env
