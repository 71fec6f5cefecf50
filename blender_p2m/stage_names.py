"""The names of the network's mesh stages, coarse to fine: the one list, exported as
api.STAGE_NAMES. It lives here, without torch or numpy, so that the add-on's panel and
the command line can offer the stages before PyTorch is loaded."""

STAGE_NAMES = ("coarse", "medium", "fine")
