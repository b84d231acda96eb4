"""`python3 -m prunability_torch.torchrun ...`: torchrun, also on Debian's torch 1.13 under Python 3.11.

torch 1.13 turns torchrun's --redirects / --tee values into its `Std` flag by iterating the enum,
and Python 3.11 no longer yields the zero member when iterating a Flag, so plain `torchrun`
fails at start with "'NoneType' object has no attribute 'get'". This wrapper looks the values up
by number instead and then runs torchrun unchanged (same flags; multi-node flags included). On a
current torch, plain `torchrun` works as well.
"""
import re

from torch.distributed.elastic.multiprocessing import api


def _from_str(cls, vm: str):
    if re.fullmatch(r"\d", vm):
        return cls(int(vm))
    if re.fullmatch(r"(\d:\d)(,\d:\d)*", vm):
        return {int(i): cls(int(v)) for i, v in (m.split(":") for m in vm.split(","))}
    raise ValueError(f"{vm} does not match the --redirects/--tee format (e.g. 0, 3, or 0:1,1:2)")


api.Std.from_str = classmethod(_from_str)

if __name__ == "__main__":
    import logging
    import sys

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main

    # The workers print their own one-line error; the launcher's log lines and tracebacks repeat
    # it at length. torch's elastic modules set their own log levels, so each one is quietened.
    for name in ["torch.distributed.elastic", *logging.Logger.manager.loggerDict]:
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        main()
    except ChildFailedError as e:
        # Exit code 1 from rank 0 means it printed the one-line error (or a traceback) itself;
        # only a worker that died silently (a signal, another rank) needs a line from here.
        if not (0 in e.failures and e.failures[0].exitcode == 1):
            codes = ", ".join(f"rank {r}: exit code {f.exitcode}" for r, f in sorted(e.failures.items()))
            sys.stderr.write(f"error: worker processes failed ({codes}) without a message from rank 0.\n")
        sys.exit(1)
