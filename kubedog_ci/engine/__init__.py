"""The tracking engine: producers (watchers, log readers) feed one queue; one consumer owns state and decides."""
