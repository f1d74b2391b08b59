"""A small NumPy neural-network library: pure math, arrays in and arrays out.

Every model follows one contract (see `models.contract.Model`), so one trainer (`models.trainer`)
and one gradient checker (`models.gradcheck`) serve all of them.
"""
