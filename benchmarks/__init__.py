"""gankit's benchmark runner (issue 4, "Performance"): ``python -m benchmarks.run [--quick]``.

Modules, one job each:
    settings         resolved preset configs, the data and the device both loops share
    gankit_loop      gankit's Trainer driven step by step with fit's logging cadence
    reference_loop   a reference-style WGAN-GP loop (per-paper script habits) over the same networks
    timing           timed windows of whole generator steps, repeated and interleaved
    throughput       part 1: gankit's steps/s and samples/s per preset and precision
    comparison       part 2: gankit against the reference loop, with issue 4's targets
    time_to_quality  part 3: training seconds to an FD or mode-coverage threshold, both loops
    utilisation      part 4: a train step's FLOP/s as a share of the measured matmul peak
    report           tables and the results files
    run              the command line
"""
