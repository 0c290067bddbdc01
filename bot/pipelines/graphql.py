"""The Dagster GraphQL queries the bot uses, in one place (Dagster 1.x schema)."""

from __future__ import annotations

REPOSITORIES = """
{ repositoriesOrError { __typename ... on RepositoryConnection {
    nodes { name location { name } jobs { name isAssetJob } partitionSets { name pipelineName } } }
  ... on PythonError { message } } }
"""

_RUN_FIELDS = """
  runId status jobName startTime endTime updateTime parentRunId rootRunId
  tags { key value }
  stepStats { stepKey status startTime endTime }
"""

RUN = """
query Run($runId: ID!) { runOrError(runId: $runId) { __typename
  ... on Run { %s }
  ... on RunNotFoundError { message } ... on PythonError { message } } }
""".replace("%s", _RUN_FIELDS)

RUNS = """
query Runs($filter: RunsFilter, $limit: Int) { runsOrError(filter: $filter, limit: $limit) {
  __typename ... on Runs { results { %s } }
  ... on InvalidPipelineRunsFilterError { message } ... on PythonError { message } } }
""".replace("%s", _RUN_FIELDS)

RUN_FAILURES = """
query Failures($runId: ID!) { logsForRun(runId: $runId, limit: 1000) { __typename
  ... on EventConnection { events { __typename
      ... on ExecutionStepFailureEvent { stepKey error { message cause { message cause { message } } } }
      ... on RunFailureEvent { message } } }
  ... on RunNotFoundError { message } ... on PythonError { message } } }
"""

_LAUNCH_RESULT = """
  __typename
  ... on LaunchRunSuccess { run { runId } }
  ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on PipelineNotFoundError { message }
  ... on InvalidSubsetError { message }
  ... on RunConflict { message }
  ... on UnauthorizedError { message }
  ... on ConflictingExecutionParamsError { message }
  ... on PresetNotFoundError { message }
  ... on InvalidStepError { invalidStepKey }
  ... on InvalidOutputError { invalidOutputName }
  ... on NoModeProvidedError { message }
"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
%s } }
""".replace("%s", _LAUNCH_RESULT)

REEXECUTE = """
mutation Reexecute($params: ReexecutionParams!) { launchRunReexecution(reexecutionParams: $params) {
%s } }
""".replace("%s", _LAUNCH_RESULT)

TERMINATE = """
mutation Terminate($runId: String!) { terminateRun(runId: $runId) { __typename
  ... on TerminateRunSuccess { run { runId } }
  ... on TerminateRunFailure { message }
  ... on RunNotFoundError { message } ... on PythonError { message } } }
"""

BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename
  ... on LaunchBackfillSuccess { backfillId }
  ... on PartitionSetNotFoundError { message }
  ... on PythonError { message }
  ... on UnauthorizedError { message }
  ... on ConflictingExecutionParamsError { message } } }
"""

BACKFILL_STATUS = """
query BackfillStatus($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { id status partitionNames numPartitions
      partitionSet { name pipelineName }
      partitionStatuses { results { partitionName runId runStatus } } }
  ... on BackfillNotFoundError { message } ... on PythonError { message } } }
"""

BACKFILLS = """
query Backfills($status: BulkActionStatus) { partitionBackfillsOrError(status: $status, limit: 50) {
  __typename ... on PartitionBackfills { results { id status partitionNames
      partitionSet { name pipelineName } } }
  ... on PythonError { message } } }
"""

CANCEL_BACKFILL = """
mutation Cancel($id: String!) { cancelPartitionBackfill(backfillId: $id) { __typename
  ... on CancelBackfillSuccess { backfillId }
  ... on UnauthorizedError { message } ... on PythonError { message } } }
"""

ASSETS = """
{ assetNodes { assetKey { path } jobNames isPartitioned dependedByKeys { path }
    partitionKeysByDimension { partitionKeys }
    metadataEntries { label ... on IntMetadataEntry { intValue } }
    assetMaterializations(limit: 50) { runId timestamp partition
      metadataEntries { label ... on IntMetadataEntry { intValue } } }
    assetPartitionStatuses { __typename
      ... on TimePartitionStatuses { ranges { startKey endKey status } } } } }
"""

RUN_MATERIALIZATIONS = """
query RunMaterializations($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename
  ... on Asset { assetMaterializations(limit: 50) { runId
      metadataEntries { label
        ... on IntMetadataEntry { intValue }
        ... on JsonMetadataEntry { jsonString }
        ... on TextMetadataEntry { text } } } }
  ... on AssetNotFoundError { message } } }
"""
