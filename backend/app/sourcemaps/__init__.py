"""Source maps: artifact bundles uploaded with sentry-cli, and JavaScript frames resolved through them.

- archive.py: reading an uploaded bundle (a zip with a manifest) within size limits (pure);
- resolve.py: resolving an event's minified frames with parsed maps (pure, symbolic's SourceMapCache);
- lookup.py: finding the maps an event needs in PostgreSQL, parsed maps cached per bundle file;
- reprocess.py: resolving a stored event's frames afresh (an event that came before its bundle);
- upload.py, repository.py: chunk upload and bundle assembly behind the sentry-cli endpoints.
"""
