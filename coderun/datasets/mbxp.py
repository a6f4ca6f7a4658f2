"""MBXP (Athiwaratkun et al., "Multi-lingual Evaluation of Code Generation Models", ICLR 2023): MBPP
translated to other languages, with reference solutions for most problems; its evaluator is mxeval.

One dataset per language, `mbxp-LANG` (LANG as coderun's languages: cpp, java, js, ts, php, go, rb, pl), the
release files of amazon-science/mxeval `data/mbxp/` unchanged; task ids are MBXP's own (`MBJP/3`; the number
alone is accepted too). A program is `prompt + completion + test`, no separator, the completion uncut, as
mxeval builds it, and judged as mxeval judges it (pass: every step exits 0; a run limit of 10 s) with
coderun's end mark in the tests, so an exit with status 0 before the tests ran fails here (mxeval passes it).
Where mxeval runs a language differently from MultiPL-E, the layout below overrides the language row:

- Java: `Main.java` (mxeval's `main.java`, whose class is `Main`), run without `-ea`, as mxeval runs it.
- TypeScript: `tsc --target es5 --lib es2016`, and tsc's exit status 2 (errors, output emitted) counts as
  compiled: every test imports `assert` without Node's type definitions, so tsc always reports an error; type
  errors therefore never fail a sample (MultiPL-E's rule, where they do, is the language row's own).
- C++: g++'s default dialect (gnu++17, as mxeval's plain `g++`), with the precompiled bits/stdc++.h that
  every MBXP prompt includes first.
- Go: `go build` and the binary (mxeval's `go run`); the end mark prints through an `os` import of its own.

docs/languages.md lists what differs from mxeval and why; tests/test_suites.py measures it on mxeval's own
verdicts.
"""

from __future__ import annotations

import dataclasses

from coderun import languages
from coderun.datasets import suites
from coderun.datasets.suites import Layout
from coderun.languages import builtin as rows
from coderun.languages.base import Step

RUN_CPU = 10.0  # mxeval's run limit is 10 s of wall time: a program that fits it fits this much CPU


def _java_steps() -> tuple[Step, ...]:
    compile_, run = rows.JAVA.steps
    return (compile_, dataclasses.replace(run, argv=("java", *rows.JVM, "-cp", f".:{rows.JAVATUPLES}", "Main"),
                                          cpu=RUN_CPU))


def _ts_steps() -> tuple[Step, ...]:
    compile_, run = rows.TS.steps
    options = ("--target", "es5", "--lib", "es2016")
    # the type check decides nothing here (exit status 2 compiles): the server only transpiles (tsc-server.js)
    script = next(i for i, a in enumerate(compile_.server) if a.endswith("tsc-server.js")) + 1
    server = (*compile_.server[:script], "--transpile-only", *options)
    return (dataclasses.replace(compile_, argv=("tsc", *options, "{file}"), server=server, ok=(0, 2)),
            dataclasses.replace(run, cpu=RUN_CPU))


def _cpp_steps() -> tuple[Step, ...]:
    compile_, run = rows.CPP.steps
    argv = ("g++", f"-I{rows.PCH_GNU}", "-include", "bits/stdc++.h", "-fuse-ld=gold", "{file}", "-o", "{stem}")
    return (dataclasses.replace(compile_, argv=argv, reference=("g++", "{file}", "-o", "{stem}")),
            dataclasses.replace(run, cpu=RUN_CPU))


# `go build -o main main.go` as the go command does it for a main package of the standard library alone:
# the compiler, then the linker, on the standard library's archives (languages/files/go-direct.sh), in a
# third of the time; the linker writes no DWARF (-w: languages/builtin.py's Go row says why). A program that
# imports a package outside the standard library does not compile here (no MBXP prompt imports one; the go
# command would look for its sources in GOPATH).
GO_TOOL = "/opt/coderun/go"
GO_BUILD = (f"{GO_TOOL}/compile -p main -complete -nolocalimports -importcfg {GO_TOOL}/importcfg -o main.a {{file}} "
            f"&& exec {GO_TOOL}/link -w -importcfg {GO_TOOL}/importcfg -o main main.a")


def _go_steps() -> tuple[Step, ...]:
    compile_, run = rows.GO.steps
    build = ("sh", "-c", GO_BUILD)
    return (dataclasses.replace(compile_, argv=build, reference=("go", "build", "-o", "main", "{file}")),
            Step("run", ("./main",), RUN_CPU, 2 * RUN_CPU + 5))


GO_MARK = dict(mark='\tcoderun_os.Stdout.WriteString("{mark}\\n")', mark_at="before:}:1")
GO_PRELUDE = ("package ", 'import coderun_os "os"\n')

# Reference solutions that fail, by reason: faults in the release files. mxeval fails them too, but for those
# that end the program with status 0 before the tests ran, which mxeval passes and coderun does not.
_PARAMS = "the prompt lower-cases the parameter names (testtup1) that the solution uses in camelCase (testTup1)"
_CHAR = "the prompt names a parameter `ch` where the solution uses `char`"
_EXIT0 = ("the solution ends the program with status 0 (exit, die, System.exit) before the tests ran: mxeval "
          "passes it, coderun does not")
_TYPES = "the solution does not compile against its signature (an int or a Number returned as a Double)"
_SET = "uses Set without `require 'set'`, which Ruby needs before 3.2"
_WRONG = "the solution fails its own tests"
_BROKEN = "the solution is truncated or does not parse"
_SWALLOWED = ("the solution does not parse, and tsc's error recovery puts the tests inside the broken function, "
              "where they never run: mxeval passes it (exit 0), coderun does not (no end mark)")
_NARROWING = "the solution's `case (long long)98759853034` narrows to its int parameter's type: a compile error"


def _bad(reason: str, prefix: str, numbers: str) -> dict[str, str]:
    return {f"{prefix}/{n}": reason for n in numbers.split()}


KNOWN_BAD: dict[str, dict[str, str]] = {
    "java": {
        **_bad(_EXIT0, "MBJP", "106 325 553 579 835 871"),
        **_bad(_TYPES, "MBJP", "180 198 214 300 397 432 519 535 622 738 904"),
    },
    "js": {
        **_bad(_PARAMS, "MBJSP", "2 18 26 29 37 50 54 63 65 81 91 94 104 106 110 129 140 156 193 196 197 205 206 "
                                 "213 222 237 249 258 259 261 264 272 273 278 281 324 326 333 357 363 366 368 371 "
                                 "376 378 381 393 394 399 400 401 421 424 428 429 438 445 452 470 473 484 492 494 "
                                 "512 513 514 544 552 553 560 561 573 580 611 613 614 616 619 621 630 632 637 639 "
                                 "645 651 665 691 694 695 697 698 710 713 715 720 726 740 744 749 750 753 757 772 "
                                 "776 780 785 788 791 792 806 808 809 811 825 842 852 858 875 878 888 894 915 916 "
                                 "920 921 936 942 951 954 969 972"),
        **_bad(_WRONG, "MBJSP", "174 585 653 679 795 844 939"),
        **_bad(_CHAR, "MBJSP", "230 546 668"),
    },
    "php": {
        **_bad(_EXIT0, "MBPHP", "14 86 115 123 137 161 191 343 416 450 469 496 549 592 699 731 739 752 933 961"),
        **_bad(_PARAMS, "MBPHP", "26 37 50 54 63 65 75 81 91 94 106 110 114 117 129 140 156 197 205 206 213 219 "
                                 "222 249 258 259 261 272 273 278 281 324 326 357 363 366 368 371 376 378 381 393 "
                                 "394 400 421 424 428 429 438 444 445 452 470 492 494 513 514 544 552 553 560 561 "
                                 "573 579 580 611 613 614 616 619 621 630 632 637 639 645 651 652 665 695 697 710 "
                                 "713 715 726 740 744 750 757 772 776 780 785 788 792 806 808 809 811 842 852 858 "
                                 "859 875 878 915 920 921 936 942 951 954 969 972"),
        **_bad(_CHAR, "MBPHP", "230 546 666"),
        **_bad(_WRONG, "MBPHP", "403"),
    },
    "rb": {
        **_bad(_SET, "MBRBP", "115 341 582 945"),
        **_bad(_EXIT0, "MBRBP", "453 546"),
    },
    "cpp": {**_bad(_NARROWING, "MBCPP", "543"), **_bad(_EXIT0, "MBCPP", "769")},
    "ts": {
        **_bad(_SWALLOWED, "MBTSP", "2 7 10 13 15 16 17 18 21 29 30 31 33 39 40 44 48 50 53 57 60 63 64 67 69 75 80 81 83 85 87 94 97 100 "
                             "106 107 108 110 111 114 117 121 123 125 129 130 132 133 137 140 143 144 145 147 148 149 151 153 155 "
                             "156 157 158 159 163 165 166 168 170 171 173 174 177 180 181 182 186 187 191 193 196 197 200 205 206 "
                             "207 209 212 213 215 219 222 234 235 237 238 241 243 245 246 247 251 252 254 255 256 259 260 263 265 "
                             "273 276 277 280 283 286 287 288 290 291 296 297 298 299 301 305 307 308 310 311 312 314 316 317 319 "
                             "321 322 323 324 326 328 330 337 338 340 341 342 343 345 346 347 349 350 352 353 354 357 358 362 363 "
                             "364 368 369 370 371 372 374 376 379 381 383 387 389 391 392 393 394 395 396 398 399 400 401 408 410 "
                             "411 412 413 415 417 420 421 422 423 424 426 427 431 433 437 438 439 440 441 444 445 446 450 462 463 "
                             "465 466 467 468 469 470 471 473 475 480 484 485 490 493 495 497 501 503 506 510 511 512 517 518 520 "
                             "523 524 525 526 528 529 531 532 534 535 538 539 541 542 543 544 545 546 551 552 554 557 560 561 564 "
                             "565 568 569 570 571 578 579 580 582 583 584 586 588 594 595 596 599 602 603 604 607 609 610 611 612 "
                             "613 615 619 620 621 622 623 626 627 628 629 630 632 634 636 638 640 641 642 644 648 649 651 652 653 "
                             "656 657 660 661 662 665 667 669 681 682 686 689 690 691 692 693 696 697 698 701 702 706 709 714 717 "
                             "718 719 721 722 724 725 726 727 728 732 734 735 737 740 742 743 745 747 750 752 754 756 757 760 763 "
                             "766 767 769 773 775 776 778 779 780 782 787 788 791 794 802 806 807 808 810 811 812 817 819 820 821 "
                             "822 826 828 829 831 834 835 837 838 839 842 843 845 846 849 851 852 853 854 856 859 860 861 862 863 "
                             "864 867 869 872 875 877 879 880 881 888 892 893 894 897 900 901 902 905 906 910 912 913 915 916 917 "
                             "920 921 922 928 932 933 934 935 936 937 938 939 941 943 944 946 949 954 960 961 962 963 966 967 969 "
                             "971 974"),
        **_bad(_BROKEN, "MBTSP", "5 12 14 24 36 43 55 59 73 82 103 119 139 160 164 188 190 198 199 203 220 223 233 236 264 275 279 292 "
                             "303 304 306 318 325 336 355 385 386 402 416 430 448 481 486 488 494 522 537 574 575 589 597 617 646 "
                             "659 663 699 716 731 739 746 759 761 762 783 801 836 866 885 895 898 909 918 923 926 931 950 952 965 "
                             "968"),
        **_bad(_WRONG, "MBTSP", "54 71 189 229 231 240 333 428 487 505 507 516 591 625 650 705 777 815 824 889 940 953"),
    },
    "go": {},  # MBXP has no reference solutions for Go and Perl
    "pl": {},
}

LAYOUTS = {
    "cpp": Layout("cpp", "mbcpp_release_v1.2.jsonl.gz", "MBCPP", {"steps": _cpp_steps(), "mark_at": "before:return:1"}),
    "java": Layout("java", "mbjp_release_v1.2.jsonl.gz", "MBJP", {"steps": _java_steps(), "file": "Main.java"}),
    "js": Layout("js", "mbjsp_release_v1.2.jsonl.gz", "MBJSP", {"steps": suites.run_limit("js", RUN_CPU)}),
    "ts": Layout("ts", "mbtsp_release_v1.2.jsonl.gz", "MBTSP", {"steps": _ts_steps()}),
    "php": Layout("php", "mbphp_release_v1.2.jsonl.gz", "MBPHP", {"steps": suites.run_limit("php", RUN_CPU)}),
    "rb": Layout("rb", "mbrbp_release_v1.2.jsonl.gz", "MBRBP", {"steps": suites.run_limit("rb", RUN_CPU)},
                 end="\nend"),
    "pl": Layout("pl", "mbplp_release_v1.jsonl.gz", "MBPLP", {"steps": suites.run_limit("pl", RUN_CPU)}),
    "go": Layout("go", "mbgp_release_v1.1.jsonl.gz", "MBGP", {"steps": _go_steps(), "file": "main.go", **GO_MARK},
                 prelude=GO_PRELUDE),
}

for _lang, _layout in LAYOUTS.items():
    _layout = dataclasses.replace(_layout, known_bad=KNOWN_BAD[_lang])
    LAYOUTS[_lang] = _layout
    suites.register_suite(f"mbxp-{_lang}", _layout, command="mbpp", variant=f"language-{_lang}", family="mbxp",
                          description=f"MBXP (MBPP in {languages.get(_lang).title}), mxeval's rules")


suites._formats("mbxp", "MBXP")
