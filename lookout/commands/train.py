"""`lookout train DIR --out runs/NAME`: fine-tune a Model Garden RetinaNet on a dataset folder."""

from __future__ import annotations

import argparse
import sys

from lookout.config import Config, override


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a detector on a `lookout dataset build` folder",
        description="Train a RetinaNet (TF Model Garden) on DIR, the output of `lookout dataset "
                    "build`. Checkpoints, TensorBoard summaries (tensorboard --logdir RUN), "
                    "params.yaml and run.json go in the run folder. Ctrl+C saves a checkpoint; "
                    "--resume continues. Flags override config.toml [train].")
    p.add_argument("dataset", nargs="?", default=None,
                   help="dataset folder (dataset.json + records); optional with --resume")
    p.add_argument("--out", help="run folder, e.g. runs/raccoon (required to train)")
    p.add_argument("--model", help="preset: retinanet-mobilenetv2-fpn | "
                                   "retinanet-mobilenetv2-fpn-l7 | retinanet-spinenet-mobile"
                                   " | retinanet-resnet50-fpn")
    p.add_argument("--input-size", type=_size, dest="input_size",
                   help="square input size in px, or auto (default: up to the size at which "
                        "90%% of the training boxes are at least 16 px, as far as the --time "
                        "budget affords it)")
    p.add_argument("--anchors", choices=["auto", "default"],
                   help="auto: fit anchor size, ratios and scales to the training boxes "
                        "where that clearly raises their recall (default); default: Model "
                        "Garden's")
    p.add_argument("--time", help="train for this long, e.g. 30m, 2h, 90s: input size, levels "
                                  "and steps are chosen to fit, and the clock ends the run as "
                                  "Ctrl+C would, then it is evaluated (default on a CPU: "
                                  "train.cpu_time, 30m)")
    p.add_argument("--steps", type=int, help="total training steps (with --time, whichever "
                                             "comes first ends the run)")
    p.add_argument("--batch", type=int, help="global batch size")
    p.add_argument("--lr", type=float, help="base learning rate")
    p.add_argument("--init", help="start from pretrained weights: auto (default: the preset's "
                                  "COCO checkpoint when it can be had, else from scratch, "
                                  "saying so) | none (from scratch) | coco | imagenet | a name "
                                  "from --list-init (Model Garden's published checkpoints), or a "
                                  "checkpoint path, URL (.tar.gz or checkpoint prefix; "
                                  "'#sha256=HEX' pins it) or runs/OTHER")
    p.add_argument("--list-init", action="store_true", dest="list_init",
                   help="list the pretrained weights --init takes by name, and exit")
    p.add_argument("--weights-url", dest="weights_url",
                   help="mirror of the published weights (URL or folder; also "
                        "$LOOKOUT_WEIGHTS_URL)")
    p.add_argument("--freeze", help="leave modules untrained: backbone | backbone,decoder")
    p.add_argument("--checkpoint-every", type=int, dest="checkpoint_every",
                   help="write a checkpoint every N steps")
    p.add_argument("--strategy", help="one_device | mirrored | multi_worker_mirrored (TF_CONFIG)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    p.set_defaults(func=run)


def _size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number of pixels, got {text!r}")


def run(args: argparse.Namespace, config: Config) -> int:
    from rich.console import Console
    from rich.markup import escape

    from core.errors import UserError
    from lookout.progress import Bars
    from training.train import train

    cfg = override(config.train, model=args.model, input_size=args.input_size,
                   anchors=args.anchors, steps=args.steps, time=args.time,
                   batch=args.batch, lr=args.lr, init=args.init, strategy=args.strategy,
                   checkpoint_every=args.checkpoint_every, weights_url=args.weights_url,
                   freeze=args.freeze)
    console = Console(highlight=False)
    if args.list_init:
        _list_init(console, cfg.weights_url or None)
        return 0
    if args.dataset is None and not args.resume:
        raise UserError("lookout train: give the dataset folder (or --resume an existing run)")
    if not args.out:
        raise UserError("lookout train: give the run folder with --out, e.g. --out runs/NAME")
    out = Console(file=sys.stdout, highlight=False)  # the bars and the init lines share it
    # train, and download / evaluate around it; in a log, a line at least every minute
    with Bars(out, every_s=60.0) as bars:
        def notify(text: str, warning: bool) -> None:
            # above the bars, one line each however narrow the terminal
            bars.progress.console.print(
                f"[yellow]warning:[/] {escape(text)}" if warning else escape(text),
                soft_wrap=True, highlight=False)

        info = train(args.dataset, args.out, cfg, resume=args.resume,
                     evaluate_at_end=not args.no_eval, on_progress=bars, notify=notify,
                     on_init=lambda init: _print_init(out, init))
    if info.interrupted:
        console.print(f"interrupted at step {info.step}/{info.steps}; checkpoint saved: "
                      f"{info.checkpoint}\ncontinue with: lookout train --resume --out {args.out}")
        return 130
    loss = "-" if info.loss is None else f"{info.loss:.4f}"
    clock = " (the time budget ended it)" if info.stopped_by == "time" else ""
    console.print(f"trained {info.step} steps{clock}, loss {loss}, {info.images_per_sec:.1f} "
                  f"images/s; run folder {info.run_dir}")
    if info.metrics:
        coco = info.metrics["coco"]
        console.print(f"test AP {coco['AP']:.3f}  AP50 {coco['AP50']:.3f}")
    console.print(f"next: lookout export {args.out} --out models/{info.run_dir.name}")
    return 0


def _print_init(console, init: dict) -> None:
    """What --init restored, module by module."""
    name = f"{init['weights']} ({init['url']})" if init["weights"] else init["checkpoint"]
    console.print(f"init from {name}", soft_wrap=True)
    for module, n in init["counts"].items():
        why = init["skipped"].get(module)
        if n["restored"] and n["fresh"]:
            which = ("the output layers: the anchors differ" if why else
                     "the classifier's class-dependent weights")
            state = f"restored {n['restored']} variables; {n['fresh']} fresh ({which})"
        elif n["restored"]:
            state = f"restored ({n['restored']} variables)"
        else:
            state = f"fresh ({n['fresh']} variables{f': {why}' if why else ''})"
        console.print(f"  {module:<9} {state}", soft_wrap=True)


def _list_init(console, mirror: str | None) -> None:
    from training.catalogue import describe

    console.print("pretrained weights for --init (TF Model Garden's published checkpoints):")
    for row in describe(mirror):
        console.print(f"\n[bold]{row['name']}[/]  (--init {row['init']} for {row['presets']})\n"
                      f"  {row['architecture']}\n"
                      f"  {row['input']} px; holds {row['contents']}; {row['published']}\n"
                      f"  {row['url']}", soft_wrap=True)
