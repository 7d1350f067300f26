"""Models, adapters and datasets where users keep them: ``hf://``, ``s3://`` and ``pvc://``.

:func:`~kubefactory.runtime.storage.fetch.fetch` brings a URI into a content-keyed cache folder
(the same content is downloaded once, however many jobs ask for it) and answers with where it
is and what came down. A download goes to a temporary folder first; only a complete one is
renamed into place, after its marker is written, so a partial download is never used.
Interrupted downloads resume: files already complete are kept, and a transfer cut off midway
continues from where it stopped.

Light at import: ``huggingface_hub`` is imported when a hub URI is fetched; S3 is spoken with
the standard library (SigV4), so no AWS SDK is needed.
"""
