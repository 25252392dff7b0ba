"""The tracking engine: producers (watchers, log readers) feed one queue; one loop owns state and decides."""
