"""OpenES (evosax) over pytree populations, *maximising* any fitness function: the generic half of meta-training.

evosax >= 0.2 minimises, so ``Evolution.step`` passes -fitness (OPEN does the same; Goldie et al. 2024).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from evosax.algorithms import Open_ES
from evosax.core.fitness_shaping import centered_rank_fitness_shaping_fn


@dataclasses.dataclass(frozen=True)
class ESConfig:
    """OpenES settings; sigma and lr decay geometrically per generation down to their limits."""

    population: int = 32
    sigma: float = 0.03
    sigma_decay: float = 1.0
    sigma_limit: float = 0.01
    lr: float = 0.02
    lr_decay: float = 1.0
    lr_limit: float = 0.001
    antithetic: bool = True

    def validate(self) -> ESConfig:
        if self.population < 2 or (self.antithetic and self.population % 2):
            raise ValueError(
                f"population must be an even number >= 2 (antithetic pairs), got {self.population}"
            )
        for name in ("sigma", "lr", "sigma_limit", "lr_limit"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ESConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("sigma_decay", "lr_decay"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"ESConfig.{name} must be in (0, 1], got {getattr(self, name)}")
        return self


def _schedule(init: float, decay: float, limit: float):
    if decay == 1.0:
        return optax.constant_schedule(init)
    return optax.exponential_decay(init, transition_steps=1, decay_rate=decay, end_value=min(limit, init))


def make_es(config: ESConfig, template: Any) -> Open_ES:
    """evosax OpenES over pytrees shaped like ``template``: Adam on the mean, centered-rank shaping."""
    config.validate()
    return Open_ES(
        population_size=config.population,
        solution=template,
        use_antithetic_sampling=config.antithetic,
        optimizer=optax.adam(_schedule(config.lr, config.lr_decay, config.lr_limit)),
        std_schedule=_schedule(config.sigma, config.sigma_decay, config.sigma_limit),
        fitness_shaping_fn=centered_rank_fitness_shaping_fn,
    )


class Evolution:
    """Ask / evaluate / tell around evosax OpenES, *maximising* the fitness it is given."""

    def __init__(self, config: ESConfig, template: Any):
        self.config = config.validate()
        self.es = make_es(config, template)
        self.params = self.es.default_params

    def init(self, key: jax.Array, mean: Any):
        return self.es.init(key, mean, self.params)

    def mean(self, es_state) -> Any:
        return self.es.get_mean(es_state)

    def step(self, es_state, key: jax.Array, fitness_fn: Callable):
        """One generation: ``(es_state, fitness, population, aux)``; NaN fitness ranks last.

        ``fitness_fn(population, key) -> (fitness[P], aux)`` scores a pytree population with a leading P axis.
        """
        k_ask, k_fit, k_tell = jax.random.split(key, 3)
        population, es_state = self.es.ask(k_ask, es_state, self.params)
        fitness, aux = fitness_fn(population, k_fit)
        fitness = jnp.asarray(fitness, jnp.float32)
        es_state, _ = self.es.tell(k_tell, population, -fitness, es_state, self.params)  # evosax minimises
        return es_state, fitness, population, aux
