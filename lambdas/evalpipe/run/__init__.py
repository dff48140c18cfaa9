"""evalpipe.run"""
