"""Trainer: exact resume (one process and two), DDP equals micro-batches, the device path,
divergence stops with nothing written, bad input, --help."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import unittest

import numpy as np
import torch

from prunability_torch import safetensors_io
from prunability_torch.cli import build_parser
from prunability_torch.data import Split, read_dataset
from prunability_torch.evaluate import embed, evaluate
from prunability_torch.lab_io import load_model, save_model
from prunability_torch.model import build_model
from prunability_torch.spec import build_spec
from prunability_torch.train import TrainConfig, Trainer

from .helpers import PYTHON, PYTHON_DIR, run_cli, tmpdir, xs_data

# The recipe flags every run here shares; --device cpu so that a GPU machine runs these CPU
# checks as written (the CUDA checks below ask for cuda themselves).
RECIPE = ["--p", "4", "--k", "2", "--threads", "1", "--warmup-steps", "2", "--lr", "1e-3", "--log-every", "1", "--device", "cpu"]
BASE = ["--depth", "18", "--width", "0.125", "--input-size", "64x32", *RECIPE]


def weights(path):
    return safetensors_io.load(path)[0]


def max_rel_diff(a, b):
    worst = 0.0
    for k in a:
        if a[k].is_floating_point():
            scale = max(1e-6, a[k].abs().max().item())
            worst = max(worst, (a[k] - b[k]).abs().max().item() / scale)
    return worst


def update_rel_diff(init, a, b):
    """|b - a| / |a - init| over every float tensor: how far b's training update is from a's."""
    keys = [k for k in init if init[k].is_floating_point()]
    flat = lambda sd: torch.cat([sd[k].double().flatten() for k in keys])  # noqa: E731
    return ((flat(b) - flat(a)).norm() / (flat(a) - flat(init)).norm()).item()


def measured(what, value):
    """Printed so that a run of the suite shows the number docs/SCALE_OUT.md records."""
    print(f"\n  measured: {what} {value:.2e}", file=sys.stderr, flush=True)


def torchrun(n, *args, timeout=600):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1")
    return subprocess.run([PYTHON, "-m", "prunability_torch.torchrun", "--standalone", "--nproc_per_node", str(n), "-m", "prunability_torch", *args],
                          cwd=PYTHON_DIR, env=env, capture_output=True, text=True, timeout=timeout)


def _children(pid):
    kids = []
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(d))
        except OSError:
            pass  # exited meanwhile
    return kids


def _rank_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
    return int(env.get(b"RANK", b"-1"))


class TrainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = xs_data()

    def setUp(self):
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def train(self, out, *extra, env=None):
        return run_cli("train", "--data", self.data, *BASE, "--out", os.path.join(self.dir, out), *extra, env=env)

    def small_model(self):
        """A dense ResNet-18 x0.125 at 64x32 to fine-tune, as the lab would export it."""
        torch.manual_seed(0)
        path = os.path.join(self.dir, "dense.safetensors")
        save_model(path, build_model(build_spec(18, 0.125, 1, 64, 32)), include_classifier=False)
        return path

    def test_trains_and_writes_a_model_the_loader_reads(self):
        r = self.train("m.safetensors", "--steps", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        model, meta, notes = load_model(os.path.join(self.dir, "m.safetensors"))
        self.assertEqual(notes, [])  # spec in the metadata: nothing defaulted
        self.assertEqual(model.spec["input"], {"height": 64, "width": 32})
        self.assertIn('"steps":3', meta["prunability-lab.lineage"])

    def test_a_model_trained_from_another_carries_its_record(self):
        self.assertEqual(self.train("pre.safetensors", "--steps", "2").returncode, 0)
        r = self.train("src.safetensors", "--steps", "4", "--time-budget", "1e-9")  # stops after one step
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.train("src.safetensors", "--steps", "4", "--resume", "--init", os.path.join(self.dir, "pre.safetensors"))
        self.assertEqual(r.returncode, 0, r.stderr)
        record = json.loads(load_model(os.path.join(self.dir, "src.safetensors"))[1]["prunability-lab.lineage"])
        self.assertEqual(record["steps"], 4)
        self.assertEqual(record["resumedAtStep"], 1)  # its wallSeconds time steps 1-4 only
        self.assertEqual(record["previous"]["kind"], "train")
        self.assertEqual(record["previous"]["steps"], 2)
        self.assertNotIn("resumedAtStep", record["previous"])

    def test_resume_is_bit_exact(self):
        self.assertEqual(self.train("full.safetensors", "--steps", "6").returncode, 0)
        r = self.train("half.safetensors", "--steps", "6", "--time-budget", "1e-9")  # stops after one step
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("stopped at step 1 of 6", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "half.safetensors")))  # no model until the end
        r = self.train("half.safetensors", "--steps", "6", "--resume")
        self.assertEqual(r.returncode, 0, r.stderr)
        a, b = weights(os.path.join(self.dir, "full.safetensors")), weights(os.path.join(self.dir, "half.safetensors"))
        for k in a:
            self.assertTrue(torch.equal(a[k], b[k]), k)

    def test_sigterm_stops_at_a_checkpoint(self):
        import time

        env = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1")
        out = os.path.join(self.dir, "t.safetensors")
        p = subprocess.Popen([PYTHON, "-m", "prunability_torch", "train", "--data", self.data, *BASE, "--steps", "100000", "--out", out],
                             cwd=PYTHON_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in p.stdout:  # wait until it trains
            if line.startswith("step 2/"):
                break
        p.send_signal(signal.SIGTERM)
        rest, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)
        self.assertRegex(rest, r"asked to stop: stopped at step \d+ of 100000")
        self.assertTrue(os.path.exists(out + ".ckpt"))
        self.assertFalse(os.path.exists(out))

    def test_two_processes_equal_one_process_with_two_micro_batches(self):
        r1 = self.train("single.safetensors", "--steps", "3", "--micro-batches", "2")
        self.assertEqual(r1.returncode, 0, r1.stderr)
        r2 = torchrun(2, "train", "--data", self.data, *BASE, "--steps", "3", "--out", os.path.join(self.dir, "ddp.safetensors"))
        self.assertEqual(r2.returncode, 0, r2.stderr[-2000:])
        a, b = weights(os.path.join(self.dir, "single.safetensors")), weights(os.path.join(self.dir, "ddp.safetensors"))
        measured("2 processes vs 1 process x 2 micro-batches, max relative difference", max_rel_diff(a, b))
        self.assertLess(max_rel_diff(a, b), 1e-4)
        # and the split matters: one process without micro-batches trains another model
        r3 = self.train("plain.safetensors", "--steps", "3")
        self.assertEqual(r3.returncode, 0, r3.stderr)
        plain = max_rel_diff(a, weights(os.path.join(self.dir, "plain.safetensors")))
        measured("1 process without micro-batches vs with 2, max relative difference", plain)
        self.assertGreater(plain, 1e-3)

    def test_divergence_stops_with_a_sentence_and_writes_nothing(self):
        r = self.train("nan.safetensors", "--steps", "5", "--lr", "1e12", "--optimizer", "sgd")
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"^error: (The loss became|A weight became) .*diverged")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "nan.safetensors")))

    def test_two_process_resume_is_bit_exact(self):
        ft = ["finetune", "--model", self.small_model(), "--data", self.data, *RECIPE, "--steps", "4"]
        r = torchrun(2, *ft, "--out", os.path.join(self.dir, "full.safetensors"))
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        r = torchrun(2, *ft, "--out", os.path.join(self.dir, "half.safetensors"), "--time-budget", "1e-9")  # stops after one step
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertIn("stopped at step 1 of 4", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "half.safetensors")))
        r = torchrun(2, *ft, "--out", os.path.join(self.dir, "half.safetensors"), "--resume")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertIn("resumed", r.stdout)
        a, b = weights(os.path.join(self.dir, "full.safetensors")), weights(os.path.join(self.dir, "half.safetensors"))
        self.assertEqual(sorted(a), sorted(b))
        for k in a:
            self.assertTrue(torch.equal(a[k], b[k]), k)

    def test_a_stop_asked_of_one_process_stops_them_all(self):
        # A scheduler's SIGTERM reaches the processes at different moments; had each stopped on
        # its own, the one that went on would wait forever in the next step's all-reduce.
        out = os.path.join(self.dir, "t.safetensors")
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1")
        p = subprocess.Popen([PYTHON, "-m", "prunability_torch.torchrun", "--standalone", "--nproc_per_node", "2", "-m", "prunability_torch",
                              "train", "--data", self.data, *BASE, "--steps", "100000", "--out", out],
                             cwd=PYTHON_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.addCleanup(lambda: p.poll() is not None or os.killpg(p.pid, signal.SIGKILL))
        for line in p.stdout:  # wait until it trains
            if line.startswith("step 2/"):
                break
        rank1 = [pid for pid in _children(p.pid) if _rank_of(pid) == 1]
        self.assertEqual(len(rank1), 1)
        os.kill(rank1[0], signal.SIGTERM)
        rest, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err[-2000:])
        self.assertRegex(rest, r"asked to stop: stopped at step \d+ of 100000")
        self.assertTrue(os.path.exists(out + ".ckpt"))
        self.assertFalse(os.path.exists(out))

    def test_more_processes_than_the_data(self):
        # XS has 16 training identities; every process needs P / processes >= 2 of them.
        for n, p, message in ((3, "4", "P=4 identities per batch cannot be split evenly over 3 process(es)"),
                              (4, "4", "Each of the 4 shards would hold 1 identity"),
                              (2, "18", "A P x K batch needs at least P=18 identities; the training split has 16")):
            with self.subTest(processes=n, p=p):
                r = torchrun(n, "train", "--data", self.data, *BASE, "--p", p, "--steps", "2", "--out", os.path.join(self.dir, "x.safetensors"))
                self.assertEqual(r.returncode, 1)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertRegex(r.stderr, "^error: " + re.escape(message))
                self.assertEqual(os.listdir(self.dir), [])  # no model, checkpoint or log

    def test_device_errors_are_one_line(self):
        cases = [("tpu", "--device must be auto, cpu, cuda or cuda:N; got 'tpu'")]
        if not torch.cuda.is_available():
            cases.append(("cuda", "--device cuda: no CUDA GPU is visible to this process"))
        for device, message in cases:
            with self.subTest(device=device):
                r = self.train("x.safetensors", "--steps", "2", "--device", device)
                self.assertEqual(r.returncode, 1)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertEqual(os.listdir(self.dir), [])

    def test_evaluating_during_training_changes_nothing(self):
        self.assertEqual(self.train("plain.safetensors", "--steps", "3").returncode, 0)
        r = self.train("eval.safetensors", "--steps", "3", "--eval-data", self.data, "--eval-every", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(re.findall(r"^eval at step \d: mAP", r.stdout, re.M)), 3)
        with open(os.path.join(self.dir, "eval.safetensors.log.jsonl")) as f:
            evals = [json.loads(line)["eval"] for line in f if '"eval"' in line]
        self.assertEqual(len(evals), 3)
        self.assertTrue(all(0 <= e["mAP"] <= 1 for e in evals))
        a, b = weights(os.path.join(self.dir, "plain.safetensors")), weights(os.path.join(self.dir, "eval.safetensors"))
        for k in a:
            self.assertTrue(torch.equal(a[k], b[k]), k)

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA GPU: the CUDA training path is not run here")
    def test_cuda_training_matches_cpu(self):
        # SGD: its update is proportional to the gradient, so TF32's ~1e-3 relative error in the
        # convolutions stays ~1e-3 in the update (Adam's first steps are ~sign(gradient) and
        # would flip wherever a gradient is near zero).
        sgd = ["--optimizer", "sgd", "--lr", "0.01", "--steps", "4"]
        for name, extra in (("init", ["--steps", "0"]), ("cpu", sgd),
                            ("gpu", [*sgd, "--device", "cuda", "--eval-data", self.data, "--eval-every", "2"])):
            r = self.train(f"{name}.safetensors", *extra)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual(re.findall(r"^eval at step (\d)", r.stdout, re.M), ["2", "4"])
        init, cpu, gpu = (weights(os.path.join(self.dir, f"{n}.safetensors")) for n in ("init", "cpu", "gpu"))
        d = update_rel_diff(init, cpu, gpu)
        measured("CUDA vs CPU, 4 SGD steps, relative difference of the update", d)
        self.assertLess(d, 0.05)
        record = json.loads(load_model(os.path.join(self.dir, "gpu.safetensors"))[1]["prunability-lab.lineage"])
        self.assertEqual(record["device"], "cuda:0")

    @unittest.skipUnless(torch.cuda.device_count() >= 2, "fewer than 2 CUDA GPUs: nccl DDP is not run here")
    def test_two_gpus_match_two_cpu_processes(self):
        sgd = ["--optimizer", "sgd", "--lr", "0.01", "--steps", "4"]
        self.assertEqual(self.train("init.safetensors", "--steps", "0").returncode, 0)
        for name, device in (("cpu", "cpu"), ("gpu", "auto")):
            r = torchrun(2, "train", "--data", self.data, *BASE, *sgd, "--device", device, "--out", os.path.join(self.dir, f"{name}.safetensors"))
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        init, cpu, gpu = (weights(os.path.join(self.dir, f"{n}.safetensors")) for n in ("init", "cpu", "gpu"))
        self.assertLess(update_rel_diff(init, cpu, gpu), 0.05)

    def test_a_folder_without_images(self):
        empty = os.path.join(self.dir, "empty")
        os.makedirs(os.path.join(empty, "query"))
        os.makedirs(os.path.join(empty, "bounding_box_test"))
        r = run_cli("train", "--data", empty, *BASE, "--steps", "2", "--out", os.path.join(self.dir, "x.safetensors"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("no query or gallery images", r.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), ["empty"])


class CliTest(unittest.TestCase):
    def test_recipe_defaults_are_the_labs(self):
        # src/engine/train/config.ts DEFAULT_TRAIN_CONFIG and src/engine/train/finetune.ts DEFAULT_FINETUNE_CONFIG.
        parse = build_parser().parse_args
        t = parse(["train", "--data", "d", "--out", "o"])
        self.assertEqual((t.steps, t.warmup_steps, t.lr, t.p, t.k, t.optimizer), (1000, 100, 3.5e-4, 16, 4, "adam"))
        f = parse(["finetune", "--model", "m", "--data", "d", "--out", "o"])
        self.assertEqual((f.steps, f.warmup_steps, f.lr, f.p, f.k, f.optimizer), (100, 0, 1e-4, 8, 4, "adam"))

    def test_help(self):
        for command, says in (("train", "--data"), ("finetune", "--model"), ("apply-plan", "--plan"), ("eval", "--data")):
            with self.subTest(command=command):
                r = run_cli(command, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, "")
                self.assertTrue(r.stdout.startswith(f"usage: python3 -m prunability_torch {command} "), r.stdout[:200])
                self.assertIn(says, r.stdout)


class DeviceTest(unittest.TestCase):
    """The trainer and the evaluator work where the model is (the CLI moves it before training)."""

    def test_trainer_and_embed_follow_the_models_device(self):
        devices = [torch.device("cpu")] + ([torch.device("cuda", 0)] if torch.cuda.is_available() else [])
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (8, 64, 32, 3), dtype=np.uint8)
        pids = np.repeat(np.arange(1, 5), 2)
        split = Split([f"{i}.jpg" for i in range(8)], pids, np.arange(8) % 2)
        ref = None
        for device in devices:
            with self.subTest(device=str(device)):
                torch.manual_seed(0)
                model = build_model(build_spec(18, 0.125, 1, 64, 32, num_classes=4)).to(device)
                e = embed(model, images)  # on the model's device, returned on the CPU
                self.assertEqual((e.device.type, tuple(e.shape)), ("cpu", (8, model.spec["stages"][-1][-1]["outC"])))
                if ref is None:
                    ref = e
                else:  # TF32 convolutions on a GPU: close, not equal
                    self.assertLess((e - ref).abs().max().item() / ref.abs().max().item(), 0.05)
                trainer = Trainer(model, split, TrainConfig(steps=2, p=4, k=2, warmup_steps=0), images=images, log=lambda s: None)
                self.assertEqual(trainer.device, device)
                self.assertTrue(np.isfinite(trainer.train_step()["loss"]))
                self.assertEqual(next(model.parameters()).device, device)

    def test_evaluate_a_cpu_model(self):
        torch.manual_seed(0)
        r = evaluate(build_model(build_spec(18, 0.125, 1, 64, 32)), read_dataset(xs_data()))
        self.assertTrue(0 <= r["mAP"] <= 1 and 0 <= r["rank1"] <= 1, r)
        self.assertGreater(r["numQueries"], 0)


if __name__ == "__main__":
    unittest.main()
