"""The documented exit codes (README, "Exit codes"); every command returns one of these."""

OK = 0
FAILED = 1
USAGE = 2
TIMEOUT = 3
APPLY_REJECTED = 4
CLUSTER_ERROR = 5
SIGINT = 130
SIGTERM = 143
SIGPIPE = 141

PROGRESSING = TIMEOUT
"""`status`: some object is not ready yet but has not failed, the same outcome a timeout reports."""
