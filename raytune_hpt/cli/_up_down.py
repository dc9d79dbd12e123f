"""``raytune-hpt up`` and ``raytune-hpt down``: a local Ray kept up between scripts, so that
each script's search joins it instead of starting Ray (the work is
the driver's ``_kept_ray``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from raytune_hpt.cli._common import PROG, add_command

__all__ = ["cmd_down", "cmd_up"]


def _add_up(subparsers: Any) -> argparse.ArgumentParser:
    parser = add_command(
        subparsers, "up", "keep a local Ray up for the next scripts (stop it with `down`)",
        "Start a local Ray in a process of its own and keep it up: every search() on this "
        "machine with no address then joins it instead of starting Ray (a few seconds saved "
        f"per script) and says so. It stays up until `{PROG} down`. It listens on this "
        "machine's loopback interface only and requires Ray's token (RAY_AUTH_MODE must be "
        "unset or 'token').")
    parser.add_argument("--num-cpus", type=int, default=None,
                        help="CPUs it offers (default: this machine's)")
    parser.add_argument("--num-gpus", type=int, default=None,
                        help="GPUs it offers (default: this machine's)")
    parser.add_argument("--warm-workers", type=int, default=None,
                        help="workers it starts with TensorFlow already imported, for the "
                             "next script's trials; it returns once they are ready "
                             "(default: its CPUs, at most 8; 0: none)")
    return parser


def cmd_up(args: argparse.Namespace) -> int:
    from raytune_hpt.driver import keep_ray_up

    for name in ("num_cpus", "num_gpus", "warm_workers"):
        value = getattr(args, name)
        if value is not None and value < 0:
            print(f"{PROG}: error: --{name.replace('_', '-')} must be >= 0; got {value}",
                  file=sys.stderr)
            return 2
    try:
        kept = keep_ray_up(args.num_cpus, args.num_gpus, args.warm_workers)
    except ValueError as error:  # the environment would leave it open: a configuration error
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    print(f"Up: {kept.describe()}.\nSearches on this machine with no address now use it.")
    return 0


def _add_down(subparsers: Any) -> argparse.ArgumentParser:
    return add_command(subparsers, "down", "stop the local Ray `up` keeps",
                       "Stop the local Ray that `raytune-hpt up` started (only that one).")


def cmd_down(args: argparse.Namespace) -> int:
    from raytune_hpt.driver import stop_kept_ray

    kept = stop_kept_ray()
    print(f"Stopped the local Ray at {kept.address}." if kept else "No local Ray was kept up.")
    return 0
