"""ingest: transports into the spool (SMTP, files; IMAP later). They know nothing of tickets."""
