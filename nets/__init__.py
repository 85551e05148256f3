"""Keras 3 functional image classifiers and segmenters, one family per module.

Layer names carry TF-Slim scopes with `.` in place of `/` (Keras forbids `/`
in names): TF-Slim's `InceptionV4/Logits` is every layer named
`InceptionV4.Logits` or starting with `InceptionV4.Logits.`; see `nets.scopes`.
"""
