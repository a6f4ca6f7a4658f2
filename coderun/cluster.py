"""The Ray plumbing execution (execute/ray_pool.py) and generation (generate/ray_backend.py) share:
joining the cluster, naming nodes, starting one actor pinned to each placement and stopping them.

It lives beside both stages, not in either, because the stages never import each other (docs/design.md,
"Layering"). Ray is imported only when a `--ray` run uses it.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from coderun.errors import InputError


def ray_module():
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'coderun[ray]'") from None
    return ray


def connect(address: str) -> bool:
    """Join the cluster from this (the main) thread, where Ray can install its signal handlers. True when
    this call connected (and the caller should disconnect at the end)."""
    ray = ray_module()
    if ray.is_initialized():
        return False
    # Ray replaces the SIGTERM handler with one that exits at once: coderun's own (cli/__init__.py) unwinds
    # like Ctrl-C, closing the node pools, so it is put back.
    kept = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)} if _main_thread() else {}
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise InputError(f"--ray {address}: cannot connect to a Ray cluster ({exc})") from None
    finally:
        for signum, handler in kept.items():
            if handler is not None:
                signal.signal(signum, handler)
    return True


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def node_label(ip: str, node_id: str) -> str:
    return f"{ip}/{node_id[:8]}"


def this_node() -> str:
    """The label of the node the caller (an actor) runs on."""
    ray = ray_module()
    return node_label(ray.util.get_node_ip_address(), ray.get_runtime_context().get_node_id())


def alive_nodes() -> list[dict[str, Any]]:
    return [n for n in ray_module().nodes() if n.get("Alive")]


def start_pinned(actor_class, placements: list[tuple[dict, dict, tuple]], timeout: float
                 ) -> tuple[list[tuple[Any, dict]], list[dict]]:
    """One actor per (node, actor options, constructor args) placement, pinned to that node (not soft),
    all started at once; returns ([(actor, its info())], [{"node", "reason"} of those that did not start])."""
    ray = ray_module()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(actor_class)
    starting = []
    for node, options, args in placements:
        strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        actor = remote.options(max_restarts=0, scheduling_strategy=strategy, **options).remote(*args)
        starting.append((node, actor, actor.info.remote()))
    started, failed = [], []
    for node, actor, info in starting:
        try:
            started.append((actor, ray.get(info, timeout=timeout)))
        except Exception as exc:  # noqa: BLE001 - a node that cannot host the actor is left out, and said so
            failed.append({"node": node_label(node["NodeManagerAddress"], node["NodeID"]),
                           "reason": str(exc).strip().splitlines()[-1][:200]})
            ray.kill(actor)
    return started, failed


def stop(actors: list, timeout: float) -> None:
    """Ask each actor to close (it frees its sandboxes or engine), then kill it."""
    ray = ray_module()
    for actor in actors:
        try:
            ray.get(actor.close.remote(), timeout=timeout)
        except Exception:  # noqa: BLE001 - a lost node has nothing left to close
            pass
        ray.kill(actor)
