"""Deploy: packages, their content, mirrors and groups as administrators define them, and the REST calls agents make (getJobs, file parts, status)."""
