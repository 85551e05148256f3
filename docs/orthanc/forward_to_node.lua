-- Orthanc: send each study to the medcv inference node once it is stable (no new
-- instance for Orthanc's StableAge seconds). Register the node as the DICOM modality
-- "medcv-node" (DicomModalities in orthanc.json, or PUT /modalities/medcv-node).
-- The store runs as one of Orthanc's jobs (GET /jobs shows it), one association a study.
-- The node's SRs land in the same study, which makes it stable again and sends it
-- again: the node ignores its own results and instances it already holds, so this
-- does not loop.
function OnStableStudy(studyId, tags, metadata)
   if metadata['ModifiedFrom'] == nil and metadata['AnonymizedFrom'] == nil then
      RestApiPost('/modalities/medcv-node/store',
                  '{"Resources": ["' .. studyId .. '"], "Asynchronous": true}')
   end
end
