"""headers: the header by which a mailbot knows mail written by a mailbot. Pure, imports nothing.

Every mail mailbot writes carries it (replies), and the `loops` rule drops every mail that
carries it: two desks, or two installations, answering each other would otherwise loop
forever. The writer and the reader must agree on the name, so it is spelled here only.
"""

LOOP_HEADER = "X-Mailbot-Loop"
"""Its value is the writing desk's address (for the admin reading a dropped mail)."""
