"""`lookout dataset check SRC` and `lookout dataset build SRC --out DIR`.

Thin shells over `training.datasets.check.check_dataset` and
`training.datasets.build.build_dataset`; flags override the ``[dataset]`` table.
"""

from __future__ import annotations

import argparse

from lookout.config import override

FORMATS = ["auto", "voc", "tutorial", "csv", "coco", "tfrecord"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dataset", help="check annotated images or build TFRecords")
    sub = parser.add_subparsers(dest="dataset_verb", required=True, metavar="ACTION")

    check = sub.add_parser("check", help="validate a dataset and print a report; exit 1 on errors")
    _common(check)
    check.set_defaults(func=run_check)

    build = sub.add_parser("build", help="write train/test TFRecords, label_map.pbtxt, dataset.json")
    _common(build)
    build.add_argument("--out", required=True, help="output folder (replaced atomically)")
    build.add_argument("--test-fraction", type=float, default=None,
                       help="share of images held out for test when the source has no split")
    build.add_argument("--seed", type=int, default=None, help="seed of the stratified split")
    build.add_argument("--max-size", default=None, metavar="WxH",
                       help="downscale larger images to fit, e.g. 800x600")
    build.add_argument("--shard-mb", type=int, default=None,
                       help="start a new TFRecord shard past this many MB")
    build.add_argument("--shards", type=int, default=None, metavar="N",
                       help="write at least N record files per split (one per training worker)")
    build.add_argument("--skip-bad", action="store_true", default=None,
                       help="build anyway, leaving out the images with errors")
    build.set_defaults(func=run_build)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="dataset folder or file (VOC, tutorial layout, CSV, COCO, TFRecord)")
    parser.add_argument("--format", choices=FORMATS, default=None, help="force a format (default: auto)")
    parser.add_argument("--label-map", default=None,
                        help="label_map.pbtxt fixing the class ids; other classes are errors")
    parser.add_argument("--images", default=None, help="folder of the images, if not found beside "
                        "the annotations")
    parser.add_argument("--strict", action="store_true", default=None, help="warnings fail too")


def run_check(args: argparse.Namespace, config) -> int:
    from lookout.dataset_report import print_report
    from lookout.progress import Bars
    from training.datasets.check import check_dataset

    cfg = override(config.dataset, format=args.format, strict=args.strict)
    with Bars(transient=True) as bars:
        report = check_dataset(args.src, cfg, label_map=args.label_map, images=args.images,
                               on_progress=bars)
    print_report(report, title="check")
    _outlook(report, config)
    return 0 if report.ok(cfg.strict) else 1


def _outlook(report, config) -> None:
    from rich.console import Console

    from training.fit import input_outlook

    text = input_outlook(report, config.train)
    if text:
        Console(highlight=False).print(text, soft_wrap=True)


def run_build(args: argparse.Namespace, config) -> int:
    from rich.console import Console

    from core.errors import UserError
    from lookout.dataset_report import print_report
    from lookout.progress import Bars
    from training.datasets.build import DatasetErrors, build_dataset
    from training.datasets.check import check_dataset

    cfg = override(config.dataset, format=args.format, strict=args.strict,
                   test_fraction=args.test_fraction, seed=args.seed, max_size=args.max_size,
                   shard_mb=args.shard_mb, shards=args.shards, skip_bad=args.skip_bad)
    if cfg.strict:  # warnings fail: find them before writing anything
        with Bars(transient=True) as bars:
            report = check_dataset(args.src, cfg, label_map=args.label_map, images=args.images,
                                   on_progress=bars)
        if report.warnings:
            print_report(report, title="check")
            raise UserError(f"{args.src}: {len(report.warnings)} warning(s) and strict is on")
    try:
        with Bars(transient=True) as bars:
            result = build_dataset(args.src, args.out, cfg, label_map=args.label_map,
                                   images=args.images, on_progress=bars)
    except DatasetErrors as exc:
        print_report(exc.report, title="build refused")
        raise
    print_report(result.report, title="built", built=True)
    _outlook(result.report, config)
    console = Console(highlight=False)
    for split, paths in result.records.items():
        console.print(f"{split}: {', '.join(str(p) for p in paths)}")
    console.print(f"{result.label_map}\n{result.dataset_json}")
    return 0
