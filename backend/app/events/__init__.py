"""The event core: the event model, normalization, preparation (scrub → normalize → group) and the
storing of prepared events with their issues and pending analyses. Every ingest path ends here."""
