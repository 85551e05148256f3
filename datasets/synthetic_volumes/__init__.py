"""Synthetic 3-D volumes for contrastive pretraining: label ensembles and paired views.

The four steps of the published generator, as commands with its flags:
`preprocess_totalsegmentator` (step 0) -> `generate_labels` (step 1) ->
`generate_views` (step 2) -> `generate_h5` (step 3), or all of them with
`generate_training_data`; `fake_totalsegmentator` writes templates when the
TotalSegmentator download is not at hand; `h5_source` reads the result back
through tf.data.
"""
