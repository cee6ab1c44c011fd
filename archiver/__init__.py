"""Open-records social media archiver.

Data flows one way: collector -> WARC writer -> store -> index -> search/retention/exports.
The WARC files are the source of truth; the SQLite index is derived from them.
"""

__version__ = "0.1.0"
SOFTWARE = f"open-records-archiver/{__version__}"
