"""Paradigms: the task the simulated or real subject performs ([task] and [[block]] list).

A task builds two stages: role "task" (before the controller: trial state machine, targets,
markers, per-block perturbation inputs to the plant) and role "observe" (after the plant: the
fed-back hand, `observed`, under rotation or clamp). joint_tracking: one joint to target angles
(the EMG elbow). Blocks: sims/paradigms/blocks.py.
"""
from rtcore.registry import builders, tagged_union
from sims.paradigms import center_out, joint_tracking, observe
from sims.paradigms.blocks import BlockConfig

#: The tasks (each file ends with its SPEC); `kind` selects one. A new task: import it, list it.
MEMBERS = (center_out, joint_tracking)
#: Stages a task builds beside its own (no config tag of their own).
HELPERS = (observe,)

TaskConfig = tagged_union(MEMBERS)
BUILDERS = builders(MEMBERS)

__all__ = ["BlockConfig", "TaskConfig", "build", "build_from_session"]


def build(task_cfg, blocks: list, ctx) -> list:
    """The task and observe stages for a [task] section and its [[block]] list."""
    return BUILDERS[task_cfg.kind](task_cfg, blocks, ctx)


def build_from_session(cfg, ctx) -> list:
    """The paradigm's stages, none when the session has no [task] (blocks without a task: error)."""
    task = getattr(cfg, "task", None)
    blocks = getattr(cfg, "block", [])
    if task is None:
        if blocks:
            raise ValueError(f"{ctx.config_path}: [[block]] given without a [task] section")
        return []
    return build(task, blocks, ctx)
