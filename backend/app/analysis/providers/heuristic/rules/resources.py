"""Rules for exhausted host resources and the filesystem: disk, memory, file descriptors, worker
time limits, missing files and permissions.
"""

from __future__ import annotations

from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Rule, Sig

register(
    Rule(
        id="disk-full",
        category="disk_full",
        severity="critical",
        confidence=0.9,
        match=(
            Sig(text=r"No space left on device(?:: '(?P<path>[^'\n]+)')?"),
            Sig(text=r"\bENOSPC\b(?:: no space left on device, \w+ '(?P<path>[^'\n]+)')?"),
            Sig(text=r"\[Errno 28\]|Disk quota exceeded|\bEDQUOT\b|database or disk is full"),
            Sig(text=r"The table '(?P<table>[^'\n]+)' is full|\bdisk (?:is )?full\b", confidence=0.8),
        ),
        summary="A write to {path} failed: no space left on the device",
        root_cause=(
            "The filesystem (or quota) behind {path} has no free blocks or inodes left, so the operating "
            "system rejected the write (ENOSPC). Usual culprits: logs that are not rotated, temp files or "
            "uploads never cleaned up, a database WAL/binlog growing without bound, or old container "
            "images and volumes piling up. Writes that failed are lost unless the client retries them."
        ),
        fix=(
            "1. Free space now: `df -h` and `df -i` on the host/container, then `du -xh --max-depth=1 / | "
            "sort -h` to find what grew.\n"
            "2. Remove or rotate the culprit (logrotate, temp-file cleanup, `docker system prune`, archive "
            "old WAL/binlogs) and grow the volume if it is simply too small.\n"
            "3. Alert on disk usage above 80% so this is caught before writes fail, and replay the failed"
            " writes."
        ),
        defaults={"path": "disk"},
    ),
    Rule(
        id="out-of-memory",
        category="out_of_memory",
        severity="high",
        confidence=0.85,
        match=(
            Sig(type=r"MemoryError"),
            Sig(text=r"(?P<detail>JavaScript heap out of memory)", confidence=0.9),
            Sig(text=r"OutOfMemoryError(?::\s*(?P<detail>[^\n]+))?", confidence=0.9),
            Sig(text=r"\bOOMKilled\b|\bOOM[- ]killer\b|Out of memory: Kill(?:ed)? process", confidence=0.9),
            Sig(text=r"(?:\[Errno 12\] )?(?P<detail>Cannot allocate memory)|\bENOMEM\b|\[Errno 12\]"),
            Sig(text=r"(?P<detail>runtime: out of memory|fatal error: out of memory|std::bad_alloc)"),
            Sig(text=r"\bMemoryError\b|failed to allocate \d+ bytes|Allocation failed"),
            Sig(text=r"was sent SIGKILL! Perhaps out of memory", confidence=0.75),
            Sig(text=r"signal 9 \(SIGKILL\)|exit(?:ed with)? code 137\b", confidence=0.55),
        ),
        summary="The process ran out of memory[[ ({detail})]]",
        root_cause=(
            "The process needed more memory than the runtime, container or host allows, so an allocation "
            "failed or the kernel OOM killer ended it (exit code 137 / SIGKILL). Typical causes: loading a "
            "whole table, file or API response into memory (unbounded query, `.all()`, reading a large "
            "upload at once), a cache or list that grows without limit (a leak), too many workers for the "
            "container's memory limit, or a heap limit (`--max-old-space-size`, `-Xmx`) set below real needs."
        ),
        fix=(
            "1. Check the memory graph of the container/host around the event and the limit it runs under "
            "(`kubectl describe pod` shows `OOMKilled`; `dmesg` shows the OOM killer).\n"
            "2. Find the allocation at {culprit}: stream or paginate large data, bound caches and batch "
            "sizes, and release references to big objects.\n"
            "3. If usage is legitimate, raise the limit or the heap size, or run fewer workers per container."
        ),
    ),
    Rule(
        id="too-many-open-files",
        category="file_descriptors_exhausted",
        severity="high",
        confidence=0.85,
        match=(Sig(text=r"Too many open files|\bEMFILE\b|\[Errno 24\]"),),
        summary="The process ran out of file descriptors (too many open files or sockets)",
        root_cause=(
            "Every file, socket and pipe uses a descriptor, and the process hit its limit (`ulimit -n`). "
            "Usually files or HTTP/database connections are opened and never closed (a leak, e.g. a new "
            "HTTP client or session per request), or the limit is left at a low default (1024) for a "
            "service with many concurrent connections."
        ),
        fix=(
            "1. Count and inspect open descriptors: `ls /proc/PID/fd | wc -l` and `lsof -p PID`.\n"
            "2. Close what you open (context managers, `finally`), and reuse one HTTP client / connection "
            "pool instead of creating one per request.\n"
            "3. Raise `LimitNOFILE` / `ulimit -n` (or the container's `nofile` ulimit) if the load really"
            " needs it."
        ),
    ),
    Rule(
        id="worker-timeout",
        category="worker_timeout",
        severity="high",
        confidence=0.85,
        match=(
            Sig(text=r"WORKER TIMEOUT \(pid:(?P<pid>\d+)\)", confidence=0.9),
            Sig(type=r"SoftTimeLimitExceeded|TimeLimitExceeded", confidence=0.9),
            Sig(
                text=r"SoftTimeLimitExceeded|TimeLimitExceeded|Hard time limit \((?P<timeout>[\d.]+s?)\) "
                r"exceeded"
            ),
            Sig(text=r"Task timed out after (?P<timeout>[\d.]+ seconds)", confidence=0.9),
            Sig(text=r"\bHARAKIRI\b|harakiri"),
            Sig(
                text=r"upstream timed out \(110: (?:Connection|Operation) timed out\) while reading "
                r"response header"
            ),
        ),
        summary="The request or task ran past the worker's time limit and was killed",
        root_cause=(
            "A watchdog (gunicorn `--timeout`, Celery time limits, uWSGI harakiri, a serverless timeout, or "
            "the proxy's read timeout) ended the work because it did not finish in time[[ ({timeout})]]. "
            "Either the work is genuinely slow (a slow query, a large payload, an N+1 loop) or it was "
            "blocked on something without its own timeout (an HTTP call, a lock, a pool checkout). A sync "
            "worker stuck like this also stops serving other requests."
        ),
        fix=(
            "1. Find what it was doing when killed: the stack in this event, the slow-query log, APM spans "
            "for {route}.\n"
            "2. Put explicit, shorter timeouts on every outbound call and query so they fail before the "
            "worker limit does.\n"
            "3. Move long work to a background job, or paginate/stream; raise the limit only for work that "
            "is legitimately long."
        ),
    ),
    Rule(
        id="file-not-found",
        category="file_not_found",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"No such file or directory(?::\s*'(?P<path>[^'\n]+)')?"),
            Sig(text=r"ENOENT: no such file or directory, \w+ '(?P<path>[^'\n]+)'"),
            Sig(text=r"open (?P<path>\S+): no such file or directory"),
            Sig(text=r"FileNotFoundException: (?P<path>\S+)"),
            Sig(text=r"NoSuchFileException: (?P<path>\S+)"),
            Sig(text=r"@ rb_sysopen - (?P<path>\S+)"),
            Sig(text=r"(?:TemplateNotFound|TemplateDoesNotExist):? (?P<path>\S+)", confidence=0.8),
            Sig(type=r"FileNotFoundError|NoSuchFileException|FileNotFoundException|ENOENT"),
        ),
        summary="File {path} does not exist",
        root_cause=(
            "The code opened {path}, which does not exist on this host/container. Typical causes: a relative "
            "path resolved against an unexpected working directory, a file present in development but not "
            "shipped in the image (`.dockerignore`, a missing `COPY`, not in package data), a volume not "
            "mounted in this environment, or a file written by another instance (no shared storage) or "
            "removed by a temp-file cleaner."
        ),
        fix=(
            "1. Check inside the running container: `ls -l PATH` and the process's working directory.\n"
            "2. Build absolute paths from the module location (`Path(__file__).parent`) or a setting; "
            "ship the file in the image or mount the volume.\n"
            "3. If the file is optional, handle its absence explicitly."
        ),
        defaults={"path": "a file the code opened"},
    ),
    Rule(
        id="permission-denied",
        category="permission_denied",
        severity="high",
        confidence=0.85,
        match=(
            Sig(text=r"\[Errno 13\] Permission denied(?::\s*'(?P<path>[^'\n]+)')?"),
            Sig(text=r"EACCES: permission denied, \w+ '(?P<path>[^'\n]+)'"),
            Sig(text=r"listen EACCES: permission denied (?P<path>\S+)"),
            Sig(text=r"AccessDeniedException: (?P<path>\S+)"),
            Sig(text=r"open (?P<path>\S+): permission denied"),
            Sig(text=r"Errno::EACCES|\bEACCES\b|Permission denied"),
            Sig(type=r"PermissionError|AccessDeniedException"),
            Sig(text=r"Operation not permitted|\bEPERM\b", confidence=0.75),
        ),
        summary="The process was denied access to {path}",
        root_cause=(
            "The operating system refused the operation because the user the process runs as lacks "
            "permission on {path}. Common after switching the container to a non-root user, with a mounted "
            "volume owned by another UID, a read-only filesystem, a file created by root during the "
            "build, or binding a port below 1024 without privileges."
        ),
        fix=(
            "1. Check owner and mode: `ls -ld PATH` and `id` of the process user inside the container.\n"
            "2. Fix ownership in the image (`COPY --chown`, `chown` on the volume, `fsGroup` in "
            "Kubernetes) or write to a directory the user owns (configured, not hard-coded).\n"
            "3. Do not 'fix' it by running as root; grant only the access needed."
        ),
        defaults={"path": "a file or resource"},
    ),
)
