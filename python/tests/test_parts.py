"""Model, safetensors, data and plan pieces, checked against independent computations."""
import json
import os
import shutil
import struct
import unittest

import numpy as np
import torch
from PIL import Image

from prunability_torch import safetensors_io
from prunability_torch.data import AugmentConfig, DatasetError, PKSampler, augment, read_dataset
from prunability_torch.lab_io import ModelFileError, load_model, save_model
from prunability_torch.losses import batch_hard_triplet, cross_entropy_label_smooth
from prunability_torch.model import build_model, macs_and_params
from prunability_torch.plan import PLAN_JSON_FORMAT, PlanError, apply_plan, group_layout, parse_plan, spec_fingerprint
from prunability_torch.spec import build_spec
from prunability_torch.train import TrainConfig, learning_rate_at

from .helpers import ROOT, tmpdir


class ModelTest(unittest.TestCase):
    def test_cost_matches_the_zoo_cards(self):
        # The lab's cost module counted these for the shipped models (card.json).
        for name, depth in (("resnet50-w0.5", 50), ("resnet18-w0.5", 18), ("resnet34-w0.5", 34)):
            with open(os.path.join(ROOT, "public", "models", name, "card.json")) as f:
                card = json.load(f)
            self.assertEqual(macs_and_params(build_spec(depth, 0.5)), {"macs": card["macs"], "params": card["params"]}, name)

    def test_parameter_count_matches_the_module(self):
        spec = build_spec(50, 0.25, num_classes=7)
        m = build_model(spec)
        counted = sum(p.numel() for n, p in m.named_parameters() if not n.startswith("classifier."))
        self.assertEqual(counted, macs_and_params(spec)["params"])

    def test_last_stride_sets_the_feature_map(self):
        for ls, expected in ((1, (8, 4)), (2, (4, 2))):
            m = build_model(build_spec(18, 0.125, ls, 128, 64)).eval()
            x = torch.zeros(1, 3, 128, 64)
            feats = []
            m.layer4.register_forward_hook(lambda mod, i, o: feats.append(o.shape[-2:]))
            m(x)
            self.assertEqual(tuple(feats[0]), expected)


class SafetensorsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_round_trip_with_metadata_and_dtypes(self):
        t = {"a": torch.randn(3, 4), "b": torch.arange(5, dtype=torch.int64), "c": torch.randn(2).half(), "d": torch.randn(3).bfloat16()}
        path = os.path.join(self.dir, "x.safetensors")
        safetensors_io.save(path, t, {"k": "v"})
        back, meta = safetensors_io.load(path)
        self.assertEqual(meta, {"k": "v"})
        for k in t:
            self.assertTrue(torch.equal(t[k], back[k]), k)
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        self.assertEqual((8 + n) % 8, 0)  # data 8-byte aligned

    def test_corrupt_files_are_refused_with_a_sentence(self):
        good = safetensors_io.dumps({"a": torch.zeros(4)})
        for data, msg in ((good[:20], "claims"), (b"\x02\x00\x00\x00\x00\x00\x00\x00{}" + b"x", "follow the last tensor"),
                          (b"abc", "fewer than the 8-byte")):
            with self.assertRaisesRegex(safetensors_io.SafetensorsError, msg):
                safetensors_io.parse(data)

    def test_model_round_trip_keeps_spec_and_lineage(self):
        m = build_model(build_spec(18, 0.125, 2, 64, 32, num_classes=3))
        path = os.path.join(self.dir, "m.safetensors")
        save_model(path, m, lineage={"engine": "pytorch", "kind": "finetune", "steps": 7})
        back, meta, notes = load_model(path)
        self.assertEqual(back.spec, m.spec)
        self.assertEqual(notes, [])
        self.assertEqual(json.loads(meta["prunability-lab.lineage"])["steps"], 7)
        for k, v in m.state_dict().items():
            self.assertTrue(torch.equal(v, back.state_dict()[k]), k)

    def test_without_metadata_the_defaults_are_said(self):
        m = build_model(build_spec(18, 0.125))
        path = os.path.join(self.dir, "plain.safetensors")
        safetensors_io.save(path, {"module." + k: v for k, v in m.state_dict().items()})  # DataParallel names
        _, _, notes = load_model(path)
        self.assertEqual(len(notes), 2)
        self.assertIn("last stride", notes[0])

    def test_nan_weights_are_refused(self):
        m = build_model(build_spec(18, 0.125))
        sd = m.state_dict()
        sd["layer1.0.conv1.weight"][0, 0, 0, 0] = float("nan")
        path = os.path.join(self.dir, "nan.safetensors")
        safetensors_io.save(path, sd)
        with self.assertRaisesRegex(ModelFileError, "NaN"):
            load_model(path)


class LossTest(unittest.TestCase):
    def test_batch_hard_triplet_by_hand(self):
        # 1-D features: a=0, b=1 (id 0); c=3, d=7 (id 1). Hardest positive / nearest negative:
        # a: 1 / 3 -> 1-3+0.3=0 (clamped); b: 1 / 2 -> 0; c: 4 / 2 -> 2.3; d: 4 / 6 -> 0.
        f = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
        loss, pos, neg = batch_hard_triplet(f, torch.tensor([0, 0, 1, 1]), 0.3)
        self.assertAlmostEqual(loss.item(), 2.3 / 4, places=5)
        self.assertAlmostEqual(pos.item(), (1 + 1 + 4 + 4) / 4, places=5)
        self.assertAlmostEqual(neg.item(), (3 + 2 + 2 + 6) / 4, places=5)

    def test_label_smoothing_by_hand(self):
        logits = torch.tensor([[2.0, 0.0]])
        logp = torch.log_softmax(logits, 1)[0]
        expected = -(0.95 * logp[0] + 0.05 * logp[1])
        self.assertAlmostEqual(cross_entropy_label_smooth(logits, torch.tensor([0]), 0.1).item(), expected.item(), places=6)


class ScheduleTest(unittest.TestCase):
    def test_warmup_then_cosine(self):
        c = TrainConfig(steps=110, warmup_steps=11, warmup_factor=0.1, min_factor=0.01)
        self.assertAlmostEqual(learning_rate_at(1.0, 0, 110, c), 0.1)
        self.assertAlmostEqual(learning_rate_at(1.0, 10, 110, c), 1.0)
        self.assertAlmostEqual(learning_rate_at(1.0, 11, 110, c), 1.0)
        self.assertAlmostEqual(learning_rate_at(1.0, 110, 110, c), 0.01)
        self.assertAlmostEqual(learning_rate_at(1.0, 60, 110, c), 0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * 49 / 99)))


class DataTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, rel, size=(16, 32), color=(10, 20, 30)):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.new("RGB", size, color).save(path)

    def test_market_layout_inside_a_top_folder(self):
        for n in ("0001_c1s1_000001_01.jpg", "0001_c2s1_000002_01.jpg", "0002_c1s1_000003_01.jpg"):
            self.write(f"Market-1501-v15.09.15/bounding_box_train/{n}")
        self.write("Market-1501-v15.09.15/query/0003_c1s1_000004_01.jpg")
        for n in ("0003_c2s1_000005_01.jpg", "-1_c1s1_000006_01.jpg", "0000_c3s1_000007_01.jpg"):
            self.write(f"Market-1501-v15.09.15/bounding_box_test/{n}")
        ds = read_dataset(self.dir)
        self.assertEqual(ds.train.pids.tolist(), [1, 1, 2])
        self.assertEqual(sorted(ds.gallery.pids.tolist()), [-1, 0, 3])
        self.assertEqual(ds.query.camids.tolist(), [1])

    def test_msmt17_lists(self):
        self.write("MSMT17_V1/train/0000/0000_000_01_0303morning_0015_0.jpg")
        self.write("MSMT17_V1/test/0000/0000_000_02_0303morning_0016_0.jpg")
        self.write("MSMT17_V1/test/0000/0000_001_05_0303morning_0017_0.jpg")
        root = os.path.join(self.dir, "MSMT17_V1")
        with open(os.path.join(root, "list_train.txt"), "w") as f:
            f.write("0000/0000_000_01_0303morning_0015_0.jpg 0\n")
        with open(os.path.join(root, "list_query.txt"), "w") as f:
            f.write("0000/0000_000_02_0303morning_0016_0.jpg 0\n")
        with open(os.path.join(root, "list_gallery.txt"), "w") as f:
            f.write("0000/0000_001_05_0303morning_0017_0.jpg 0\n")
        ds = read_dataset(self.dir)
        self.assertEqual(ds.train.pids.tolist(), [1])
        self.assertEqual(ds.query.camids.tolist(), [2])
        self.assertEqual(ds.gallery.pids.tolist(), ds.query.pids.tolist())
        self.assertNotEqual(ds.query.pids[0], ds.train.pids[0])  # test identities are other people

    def test_not_a_dataset(self):
        self.write("holiday/photo.jpg")
        with self.assertRaisesRegex(DatasetError, "holds no ReID dataset.*found: holiday"):
            read_dataset(self.dir)

    def test_pk_sampler_batches_and_resume(self):
        pids = np.repeat(np.arange(1, 11), [5, 1, 3, 8, 4, 4, 2, 6, 3, 9])
        s = PKSampler(pids, 4, 2, seed=3)
        batches = [s.next() for _ in range(25)]
        for b in batches:
            ids = pids[b]
            self.assertEqual(len(b), 8)
            self.assertEqual(len(set(ids.tolist())), 4)
            self.assertTrue(all((ids == i).sum() == 2 for i in set(ids.tolist())))
        t = PKSampler(pids, 4, 2, seed=3)
        for _ in range(11):
            t.next()
        u = PKSampler(pids, 4, 2, seed=3)
        u.set_state(t.state())
        self.assertEqual([u.next() for _ in range(14)], batches[11:])

    def test_augment_preserves_shape_and_is_seeded(self):
        img = np.random.default_rng(0).integers(0, 256, (4, 32, 16, 3), dtype=np.uint8)
        a = augment(img, AugmentConfig(), np.random.default_rng(5))
        b = augment(img, AugmentConfig(), np.random.default_rng(5))
        self.assertTrue(np.array_equal(a, b))
        self.assertEqual(a.shape, img.shape)
        flip = augment(img, AugmentConfig(flip=1, pad_crop=0, erasing=0), np.random.default_rng(1))
        self.assertTrue(np.array_equal(flip, img[:, :, ::-1]))


class PlanTest(unittest.TestCase):
    def test_fingerprint_matches_the_lab(self):
        # Printed by the lab: specFingerprint(buildSpec({ depth: 50, widthMultiplier: 0.5 })).
        self.assertEqual(spec_fingerprint(build_spec(50, 0.5)), "fnv1a32:f1db5d7d")

    def test_inconsistent_plans_are_refused(self):
        spec = build_spec(18, 0.125)
        base = {"format": "prunability-lab/prune-plan-json@1", "architecture": {"fingerprint": spec_fingerprint(spec), "spec": spec},
                "settings": {"scope": "inner", "seed": 1}, "groups": [{"id": "trunk2", "kind": "trunk", "channels": 16, "keep": [0, 1]}]}
        with self.assertRaisesRegex(PlanError, "scope is \"inner\" but it cuts trunk group"):
            parse_plan(base)
        for change, msg in (({"settings": {"scope": "inner+trunk", "seed": -1}}, "seed"),
                            ({"groups": [{"id": "trunk2", "kind": "inner", "channels": 16, "keep": [0]}], "settings": {"scope": "inner+trunk"}}, "is a trunk group"),
                            ({"groups": [{"id": "layer1.0.conv1", "kind": "inner", "channels": 8, "keep": [3, 2]}]}, "strictly increasing")):
            with self.assertRaisesRegex(PlanError, msg):
                parse_plan(dict(base, **change))

    def test_foreign_key_names_give_the_same_pruned_weights(self):
        # What each code base writes for the same network (keys.py maps them to the lab's names);
        # the bias-free classifiers (fast-reid, reid-strong-baseline) equal a zero bias.
        def backbone(k):
            return not k.startswith(("bnneck.", "classifier."))

        def fast_reid(k):
            if backbone(k):
                return "backbone." + k
            return k.replace("bnneck.", "heads.bottleneck.0.").replace("classifier.", "heads.classifier.")

        namings = {
            "torchvision": lambda k: k.replace("classifier.", "fc."),
            "torchreid (DataParallel)": lambda k: "module." + k,
            "fast-reid": fast_reid,
            "reid-strong-baseline": lambda k: ("base." + k) if backbone(k) else k.replace("bnneck.", "bottleneck."),
        }
        bias_free = ("fast-reid", "reid-strong-baseline")
        for depth in (18, 50):
            spec = build_spec(depth, 0.125, 1, 64, 32, num_classes=5)
            torch.manual_seed(depth)
            lab = build_model(spec).state_dict()
            with torch.no_grad():
                for k, v in lab.items():
                    if v.is_floating_point():  # random, so that a wrong slice shows
                        v.copy_(torch.rand_like(v) + 0.5 if k.endswith("running_var") else torch.randn_like(v))
                lab["classifier.bias"].zero_()
            for scope in ("inner", "inner+trunk"):
                plan = self.random_plan(spec, scope, seed=depth)
                want_spec, want = apply_plan(lab, plan)
                self.assertLess(sum(v.numel() for v in want.values()), sum(v.numel() for k, v in lab.items() if "num_batches" not in k))
                for name, rename in namings.items():
                    with self.subTest(depth=depth, scope=scope, names=name):
                        theirs = {rename(k): v for k, v in lab.items() if not (name in bias_free and k == "classifier.bias")}
                        if name == "fast-reid":
                            theirs.update(pixel_mean=torch.zeros(1, 3, 1, 1), pixel_std=torch.ones(1, 3, 1, 1))
                        self.assertFalse(set(theirs) >= set(lab), "these names are the lab's own")
                        got_spec, got = apply_plan(theirs, plan)
                        self.assertEqual(got_spec, want_spec)
                        self.assertEqual(sorted(got), sorted(want))
                        for k in want:
                            self.assertTrue(torch.equal(got[k], want[k]), k)

    @staticmethod
    def random_plan(spec, scope, seed):
        """A plan as the lab writes it: every group of the scope keeps a random half of its channels."""
        rng = np.random.default_rng(seed)
        groups = []
        for g in group_layout(spec).values():
            if scope == "inner" and g["kind"] != "inner":
                continue
            n = g["channels"]
            groups.append({"id": g["id"], "kind": g["kind"], "channels": n, "keep": sorted(rng.choice(n, size=n // 2, replace=False).tolist())})
        return {"format": PLAN_JSON_FORMAT, "architecture": {"fingerprint": spec_fingerprint(spec), "spec": spec},
                "settings": {"scope": scope, "seed": seed}, "groups": groups}


if __name__ == "__main__":
    unittest.main()
