"""`python3 -m prunability_torch <command>`: train | finetune | apply-plan | eval | embed | info."""
import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
