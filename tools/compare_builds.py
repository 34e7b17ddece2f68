#!/usr/bin/env python3
"""Runs the same generations with the CLI of an earlier revision and with the current build, and
compares their outputs byte for byte: the proof that a change which should not touch the
arithmetic (a restructure, a move of kernels) did not.

    python3 tools/compare_builds.py OLD_REV [--build build] [--keep DIR]

OLD_REV is built from a temporary git worktree (Release, the CLI only); the current tree's CLI is
taken from --build (run `make` first). Every case runs once with each CLI on the same arguments:
the shipped demo model and every DiT fixture under tests/fixtures, each sampler with and without
guidance, every cache policy (SmoothCache, TeaCache and MagCache with calibration files that the
OLD build writes, so both runs read the same file), pictures through each fixture VAE. Final
latents (.npy) and pictures (.npz, uint8) must be identical files; calibration files written by
both builds must hold the same numbers (their "_meta" may differ). Prints one line per case and
ends with "<N> identical, <N> differ"; exits 1 if anything differs or fails on one side only.
Only the Python standard library is needed.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")

# name, --model arguments
MODELS = [
    ("demo", ["--model", os.path.join(ROOT, "models", "demo")]),
    ("dit_a", ["--model", os.path.join(FIX, "dit_a")]),
    ("dit_b", ["--model", os.path.join(FIX, "dit_b.safetensors"), "--heads", "4"]),
    ("dit_c", ["--model", os.path.join(FIX, "dit_c_pipeline")]),
    ("dit_d", ["--model", os.path.join(FIX, "dit_d.safetensors"), "--heads", "2", "--input-size", "16"]),
    ("long", ["--model", os.path.join(FIX, "long", "dit_long")]),
    ("dit_e", ["--model", os.path.join(FIX, "peers_a", "dit_e")]),
    ("torch_pt", ["--model", os.path.join(FIX, "torch", "dit_original.pt"), "--heads", "2"]),
    ("torch_bin", ["--model", os.path.join(FIX, "torch", "dit_diffusers")]),
]

POLICIES = ["none", "fora:n=2", "fora:n=3", "taylorseer", "taylorseer:order=2,comps=mlp", "abcache:k=3",
            "adacache", "teacache:thresh=0.3", "fbcache:thresh=0.3", "dbcache:fn=1,bn=0,warmup=2,thresh=0.3",
            "fastercache", "fastercache:uncond_every=2,attn_every=3"]

VAES = ["vae_a_diffusers", "vae_a_legacy", "vae_b_ldm.safetensors"]


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def build_old(rev, where):
    src = os.path.join(where, "src")
    r = sh(["git", "-C", ROOT, "worktree", "add", "--detach", src, rev])
    if r.returncode:
        sys.exit("cannot check out %s:\n%s" % (rev, r.stdout))
    bld = os.path.join(where, "build")
    for cmd in (["cmake", "-S", src, "-B", bld, "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", bld, "-j", str(os.cpu_count() or 2), "--target", "smoothcache_cli"]):
        r = sh(cmd)
        if r.returncode:
            sys.exit("building %s failed:\n%s" % (rev, r.stdout[-3000:]))
    return os.path.join(bld, "smoothcache")


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def numbers(path):
    """The calibration file without its _meta, as comparable JSON text."""
    with open(path) as f:
        j = json.load(f)
    j.pop("_meta", None)
    return json.dumps(j, sort_keys=True)


class Run:
    def __init__(self, old, new, out):
        self.cli = {"old": old, "new": new}
        self.out = out
        self.same = self.differ = 0

    def case(self, name, args, outputs, compare=digest):
        """Runs args with both CLIs; outputs are (flag, file name) pairs added to the arguments."""
        results = {}
        for side in ("old", "new"):
            d = os.path.join(self.out, side)
            os.makedirs(d, exist_ok=True)
            extra = []
            for flag, fname in outputs:
                extra += [flag, os.path.join(d, name + "." + fname)]
            r = sh([self.cli[side]] + args + extra + ["--quiet", "--force", "--threads", "2"])
            results[side] = (r.returncode, r.stdout.strip().splitlines()[-1:] if r.returncode else None,
                             [compare(os.path.join(d, name + "." + f)) if r.returncode == 0 else None
                              for _, f in outputs])
        o, n = results["old"], results["new"]
        if o[0] != 0 and n[0] != 0:
            print("both refuse  %-48s %s" % (name, (n[1] or [""])[0][:60]))
            self.same += 1
        elif o == n:
            print("identical    %s" % name)
            self.same += 1
        else:
            print("DIFFER       %-48s old %s / new %s" % (name, o[:2], n[:2]))
            self.differ += 1
        return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev", help="the earlier revision (commit, tag, branch)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder of the current tree")
    ap.add_argument("--keep", help="keep the outputs in this folder")
    a = ap.parse_args()
    new = os.path.join(os.path.abspath(a.build), "smoothcache")
    if not os.access(new, os.X_OK):
        sys.exit("no CLI at %s: run make first" % new)
    tmp = tempfile.mkdtemp(prefix="sc-compare-")
    try:
        old = build_old(a.rev, os.path.join(tmp, "old-tree"))
        out = a.keep or os.path.join(tmp, "out")
        run = Run(old, new, out)
        cal = os.path.join(out, "calib")
        os.makedirs(cal, exist_ok=True)
        common = ["--class", "1,2", "--seed", "3"]
        for mname, margs in MODELS:
            for sampler in ("ddim", "iddpm", "dpmpp2m"):
                for cfg in ("4", "1"):
                    run.case("%s-%s-cfg%s" % (mname, sampler, cfg),
                             ["generate"] + margs + common + ["--steps", "8", "--sampler", sampler, "--cfg", cfg],
                             [("--latents-out", "npy")])
            gen = ["generate"] + margs + common + ["--steps", "10"]
            for pol in POLICIES:
                run.case("%s-%s" % (mname, pol.replace(":", "_").replace(",", "_").replace("=", "")),
                         gen + ["--cache", pol], [("--latents-out", "npy")])
            # Calibrations: both builds write them (numbers compared); the old build's feed both.
            files = {}
            for kind, extra in (("smooth-mean", []), ("smooth-pooled", ["--averaging", "pooled"]),
                                ("teacache", ["--for", "teacache"]), ("magcache", ["--for", "magcache"])):
                name = "%s-calibrate-%s" % (mname, kind)
                run.case(name, ["calibrate"] + margs + ["--steps", "10", "--samples", "3", "--seed", "5"] + extra,
                         [("--out", "json")], compare=numbers)
                files[kind] = os.path.join(out, "old", name + ".json")
            uses = [("smooth:errors=%s,alpha=0.3" % files["smooth-mean"]),
                    ("smooth:errors=%s,alpha=0.2,per_block=1" % files["smooth-pooled"]),
                    ("smooth:errors=%s,alpha=0.3,predict=taylor2" % files["smooth-mean"]),
                    ("smooth:errors=%s,alpha=0.3,predict=ab3" % files["smooth-mean"]),
                    ("teacache:thresh=0.3,coef_file=%s" % files["teacache"]),
                    ("magcache:thresh=0.3,k=2,ratios=%s" % files["magcache"])]
            for i, pol in enumerate(uses):
                run.case("%s-calibrated-%d-%s" % (mname, i, pol.split(":")[0]), gen + ["--cache", pol],
                         [("--latents-out", "npy")])
        # Pictures: the pixel-space demo model, and latents through every fixture VAE.
        demo = MODELS[0][1]
        run.case("demo-pictures", ["generate"] + demo + ["--steps", "10", "--seed", "4"], [("--out", "npz")])
        run.case("demo-pictures-smooth", ["generate"] + demo + [
            "--steps", "50", "--seed", "4", "--cache",
            "smooth:schedule=" + os.path.join(ROOT, "models", "demo", "cache", "smooth-a0.08.json")],
            [("--out", "npz")])
        for vae in VAES:
            run.case("dit_a-vae-%s" % vae, ["generate"] + MODELS[1][1] + common + [
                "--steps", "6", "--vae", os.path.join(FIX, vae)], [("--out", "npz"), ("--latents-out", "npy")])
        print("%d identical, %d differ" % (run.same, run.differ))
        return 1 if run.differ else 0
    finally:
        sh(["git", "-C", ROOT, "worktree", "remove", "--force", os.path.join(tmp, "old-tree", "src")])
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
