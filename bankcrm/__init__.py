"""bankcrm's command line and the tools around the product: the benchmark suite, its pandas baseline, the load
test and the app in a process of its own (for browser tests and benchmarks). It sits above analytics, auth and ui;
analytics imports none of them."""
