"""Where the application finds its database, and how a cutover moves it to green.

A repoint target is ``<kind>:<name>`` (``none`` alone). Each kind is one module here that defines
its repointer and its ``KIND`` (the name's rule, its parser and its builder); ``registry.KINDS``
maps each kind's word to it, and everything else (the checks before anything changes, the trigger
form's pattern) is derived from that table. A new kind is one module and one line in ``KINDS``.
"""
