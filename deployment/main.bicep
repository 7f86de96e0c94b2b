// Send on Azure: the Azure Bot with its Teams channel, a Linux Web App running the container,
// Cosmos DB, a Storage account for photos and files, Key Vault for the secrets, a container
// registry, and Application Insights over a Log Analytics workspace. Deploy into an existing
// resource group:
//
//   az deployment group create -g <group> -f deployment/main.bicep \
//     -p deployment/main.parameters.json -p microsoftAppPassword=<bot client secret>
//
// Step by step, with the app registrations and Exchange setup around it: docs/deploy.md.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------- parameters

@description('Short lowercase prefix of every resource name.')
@minLength(2)
@maxLength(8)
param namePrefix string = 'send'

@description('Region of everything but the Azure Bot (which is global).')
param location string = resourceGroup().location

@description('The bot\'s Entra app registration (application/client id): MicrosoftAppId.')
param microsoftAppId string

@description('A client secret of that app registration: MicrosoftAppPassword. Stored in Key Vault.')
@secure()
param microsoftAppPassword string

@description('Bot identity type (msaAppType). New Azure Bots are SingleTenant.')
@allowed([
  'SingleTenant'
  'MultiTenant'
])
param microsoftAppType string = 'SingleTenant'

@description('Tenant of the bot\'s app registration (MicrosoftAppTenantId, used when SingleTenant).')
param microsoftAppTenantId string = tenant().tenantId

@description('Azure Bot pricing tier. Teams is a standard channel: F0 is enough.')
@allowed([
  'F0'
  'S1'
])
param botSku string = 'F0'

@description('App Service plan SKU (Linux). B1 or higher: health checks and Always On need it.')
@allowed([
  'B1'
  'B2'
  'B3'
  'S1'
  'S2'
  'P0v3'
  'P1v3'
  'P2v3'
])
param appServiceSku string = 'B1'

@description('Image repository and tag in the registry this template creates (pushed by `az acr build`).')
param imageName string = 'send'
param imageTag string = 'latest'

@description('Custom host name already bound to the web app; empty = <web app>.azurewebsites.net.')
param customHostName string = ''

@description('Cosmos DB capacity: Serverless (pay per request) or Provisioned (autoscale throughput shared by the database).')
@allowed([
  'Serverless'
  'Provisioned'
])
param cosmosCapacityMode string = 'Serverless'

@description('Autoscale maximum RU/s of the database when cosmosCapacityMode is Provisioned.')
@minValue(1000)
param cosmosMaxThroughput int = 1000

@description('UPN of the service mailbox (OUTLOOK_SENDER). Empty = no Graph: mail goes to files under DATA_DIR, which App Service does not keep.')
param outlookSender string = ''

@description('App registration used for Microsoft Graph (GRAPH_CLIENT_ID); by default the bot\'s own.')
param graphClientId string = microsoftAppId

@description('Tenant of the Graph app registration and the service mailbox (GRAPH_TENANT_ID).')
param graphTenantId string = microsoftAppTenantId

@description('Client secret for Graph (GRAPH_CLIENT_SECRET); empty = the bot\'s secret (same app registration). Stored in Key Vault.')
@secure()
param graphClientSecret string = ''

@description('Actionable Messages provider id from the Actionable Email Developer Dashboard (AM_ORIGINATOR).')
param amOriginator string = ''

@description('Audience of Outlook action tokens (AM_AUDIENCE); empty = api://<public host>/<microsoftAppId>.')
param amAudience string = ''

@description('The Teams app\'s id (TEAMS_APP_ID): the manifest id, the externalId of the app in the organisation\'s catalog, with which Send installs itself for members who never opened it. Empty = microsoftAppId, as manifest/build.py does by default.')
param teamsAppId string = ''

@description('Comma-separated tenant ids allowed to use the bot (ALLOWED_TENANTS); empty = any.')
param allowedTenants string = ''

@description('Comma-separated hosts (with their subdomains) an activity\'s serviceUrl may name (BOT_SERVICE_URL_HOSTS).')
param botServiceUrlHosts string = 'smba.trafficmanager.net'

@description('OpenID metadata of the Bot Framework\'s signing keys (BOT_OPENID_METADATA_URL).')
param botOpenIdMetadataUrl string = 'https://login.botframework.com/v1/.well-known/openidconfiguration'

param graphEndpoint string = 'https://graph.microsoft.com/v1.0'
param aadAuthorityHost string = 'https://login.microsoftonline.com'

@minValue(1)
@maxValue(28000)
param maxMessageChars int = 2000

@description('Messages one person may send per minute (MESSAGES_PER_MINUTE_PER_SENDER); more are refused.')
@minValue(1)
param messagesPerMinutePerSender int = 30

@description('How many groups one person may be in (MAX_GROUPS_PER_PERSON).')
@minValue(1)
param maxGroupsPerPerson int = 100

@description('One automatic reminder the day before a meeting to those who have not answered its RSVP (MEETING_REMINDERS).')
param meetingReminders bool = true

@minValue(1)
@maxValue(50)
param teamsSendsPerSecond int = 30

@description('Days a message is kept (MESSAGE_RETENTION_DAYS); older ones are deleted.')
@minValue(1)
param messageRetentionDays int = 365

@description('Hours a throttled or refused-for-now copy is still retried (DELIVERY_DEADLINE_HOURS).')
@minValue(1)
@maxValue(336)
param deliveryDeadlineHours int = 24

@description('The largest photo or file in bytes (MAX_MEDIA_BYTES); larger ones are refused. At most 150 MB.')
@minValue(1)
@maxValue(157286400)
param maxMediaBytes int = 10485760

@description('Comma-separated host names that files attached in Teams are downloaded from, with their subdomains (FILE_DOWNLOAD_HOSTS): https only, public addresses only.')
param fileDownloadHosts string = 'sharepoint.com,sharepoint.us,sharepoint.cn'

@allowed([
  'DEBUG'
  'INFO'
  'WARNING'
  'ERROR'
  'CRITICAL'
])
param logLevel string = 'INFO'

// ---------------------------------------------------------------- names and constants

var prefix = toLower(namePrefix)
var suffix = uniqueString(resourceGroup().id)
var webAppName = '${prefix}-${suffix}'
var containerPort = '8000'
var databaseName = 'send'
// The containers and partition key paths the code creates (bot/store/documents.py, PARTITION_KEYS).
var cosmosContainers = [
  {
    name: 'directory'
    partitionKey: '/tenantId'
  }
  {
    name: 'messages'
    partitionKey: '/groupId'
  }
  {
    name: 'state'
    partitionKey: '/key'
  }
]
// The blob container of photos and files (AZURE_STORAGE_CONTAINER, the code's default).
var mediaContainerName = 'send-media'
var keyVaultSecretsUserRole = '4633458b-17de-408a-b874-0445c86b69e6'
var acrPullRole = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var useGraph = !empty(outlookSender) && !empty(graphClientId)
var teamsAppIdOrDefault = empty(teamsAppId) ? microsoftAppId : teamsAppId
var singleTenant = microsoftAppType == 'SingleTenant'

// ---------------------------------------------------------------- monitoring

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${prefix}-logs-${suffix}'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${prefix}-insights-${suffix}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

// ---------------------------------------------------------------- Cosmos DB

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: '${prefix}-cosmos-${suffix}'
  location: location
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: cosmosCapacityMode == 'Serverless' ? [
      {
        name: 'EnableServerless'
      }
    ] : []
    minimalTlsVersion: 'Tls12'
    // The bot authenticates with the account key (COSMOS_KEY, from Key Vault).
    disableLocalAuth: false
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: cosmos
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: cosmosCapacityMode == 'Serverless' ? {} : {
      autoscaleSettings: {
        maxThroughput: cosmosMaxThroughput
      }
    }
  }
}

resource containers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [for container in cosmosContainers: {
  parent: database
  name: container.name
  properties: {
    resource: {
      id: container.name
      partitionKey: {
        paths: [
          container.partitionKey
        ]
        kind: 'Hash'
        version: 2
      }
      // Time to live on, with no default: only documents with a `ttl` of their own expire
      // (messages after MESSAGE_RETENTION_DAYS, de-duplication markers), as the code creates them.
      defaultTtl: -1
    }
  }
}]

// ---------------------------------------------------------------- Blob Storage (photos and files)

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take('${replace(prefix, '-', '')}media${suffix}', 24)
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    // Photos and files are served only by Send (signed, expiring /media links, members only):
    // no blob or container is ever public.
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // The bot authenticates with the account key (AZURE_STORAGE_CONNECTION_STRING, from Key Vault).
    allowSharedKeyAccess: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // The photos and files of a deleted group are gone when Send deletes them: no
    // soft-deleted copies or earlier versions are kept behind.
    deleteRetentionPolicy: {
      enabled: false
    }
    containerDeleteRetentionPolicy: {
      enabled: false
    }
    isVersioningEnabled: false
  }
}

resource mediaContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: mediaContainerName
  properties: {
    publicAccess: 'None'
  }
}

// ---------------------------------------------------------------- Key Vault

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: take('${prefix}-kv-${suffix}', 24)
  location: location
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    publicNetworkAccess: 'Enabled'
  }
}

// Key Vault secret names allow letters, digits and dashes only, hence COSMOS-KEY for COSMOS_KEY.
resource appPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'MicrosoftAppPassword'
  properties: {
    value: microsoftAppPassword
  }
}

resource cosmosKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'COSMOS-KEY'
  properties: {
    value: cosmos.listKeys().primaryMasterKey
  }
}

resource graphSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'GRAPH-CLIENT-SECRET'
  properties: {
    value: empty(graphClientSecret) ? microsoftAppPassword : graphClientSecret
  }
}

// The connection string holds the storage account's first key: a secret like COSMOS-KEY.
resource storageConnectionSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'AZURE-STORAGE-CONNECTION-STRING'
  properties: {
    value: 'DefaultEndpointsProtocol=https;AccountName=${storage.name};AccountKey=${storage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'
  }
}

// ---------------------------------------------------------------- container registry

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: '${replace(prefix, '-', '')}acr${suffix}'
  location: location
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
  }
}

// ---------------------------------------------------------------- App Service

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${prefix}-plan-${suffix}'
  location: location
  kind: 'linux'
  sku: {
    name: appServiceSku
  }
  properties: {
    reserved: true
  }
}

resource webApp 'Microsoft.Web/sites@2023-12-01' = {
  name: webAppName
  location: location
  kind: 'app,linux,container'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      linuxFxVersion: 'DOCKER|${registry.properties.loginServer}/${imageName}:${imageTag}'
      acrUseManagedIdentityCreds: true
      appCommandLine: 'python app.py'
      // Readiness: 200 only while the store answers. /healthz (liveness) is the container's HEALTHCHECK.
      healthCheckPath: '/readyz'
      alwaysOn: true
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
  }
}

var publicHost = empty(customHostName) ? webApp.properties.defaultHostName : customHostName
var publicBaseUrl = 'https://${publicHost}'
var actionAudience = empty(amAudience) ? 'api://${publicHost}/${microsoftAppId}' : amAudience

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, webApp.id, keyVaultSecretsUserRole)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRole)
    principalId: webApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource imagePull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, webApp.id, acrPullRole)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRole)
    principalId: webApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Every setting of docs/configuration.md. Secrets are Key Vault references, resolved with the web app's
// identity; the settings are applied after that identity may read the vault.
resource webAppSettings 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: webApp
  name: 'appsettings'
  properties: {
    WEBSITES_PORT: containerPort
    WEBSITES_ENABLE_APP_SERVICE_STORAGE: 'false'
    HOST: '0.0.0.0'
    PORT: containerPort
    MicrosoftAppId: microsoftAppId
    MicrosoftAppPassword: '@Microsoft.KeyVault(SecretUri=${appPasswordSecret.properties.secretUri})'
    MicrosoftAppType: microsoftAppType
    MicrosoftAppTenantId: singleTenant ? microsoftAppTenantId : ''
    // The bot always has credentials here: local mode on 0.0.0.0 stays refused.
    ALLOW_LOCAL_MODE_ON_NETWORK: 'false'
    BOT_SERVICE_URL_HOSTS: botServiceUrlHosts
    BOT_OPENID_METADATA_URL: botOpenIdMetadataUrl
    DATA_DIR: '/app/data'
    COSMOS_ENDPOINT: cosmos.properties.documentEndpoint
    COSMOS_KEY: '@Microsoft.KeyVault(SecretUri=${cosmosKeySecret.properties.secretUri})'
    COSMOS_DATABASE: databaseName
    COSMOS_VERIFY_TLS: 'true'
    MESSAGE_RETENTION_DAYS: string(messageRetentionDays)
    GRAPH_TENANT_ID: useGraph ? graphTenantId : ''
    GRAPH_CLIENT_ID: useGraph ? graphClientId : ''
    GRAPH_CLIENT_SECRET: useGraph ? '@Microsoft.KeyVault(SecretUri=${graphSecret.properties.secretUri})' : ''
    GRAPH_ENDPOINT: graphEndpoint
    AAD_AUTHORITY_HOST: aadAuthorityHost
    OUTLOOK_SENDER: outlookSender
    AM_ORIGINATOR: amOriginator
    AM_AUDIENCE: actionAudience
    PUBLIC_BASE_URL: publicBaseUrl
    ALLOWED_TENANTS: allowedTenants
    MAX_MESSAGE_CHARS: string(maxMessageChars)
    MESSAGES_PER_MINUTE_PER_SENDER: string(messagesPerMinutePerSender)
    MAX_GROUPS_PER_PERSON: string(maxGroupsPerPerson)
    MEETING_REMINDERS: meetingReminders ? 'on' : 'off'
    TEAMS_SENDS_PER_SECOND: string(teamsSendsPerSecond)
    DELIVERY_DEADLINE_HOURS: string(deliveryDeadlineHours)
    LOG_LEVEL: logLevel
    APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
    // Used only with Graph (installing Send for members who never opened it).
    TEAMS_APP_ID: teamsAppIdOrDefault
    // Photos and files in Blob Storage: App Service does not keep DATA_DIR.
    AZURE_STORAGE_CONNECTION_STRING: '@Microsoft.KeyVault(SecretUri=${storageConnectionSecret.properties.secretUri})'
    AZURE_STORAGE_CONTAINER: mediaContainer.name
    MAX_MEDIA_BYTES: string(maxMediaBytes)
    FILE_DOWNLOAD_HOSTS: fileDownloadHosts
  }
  dependsOn: [
    secretsUser
    imagePull
    containers
  ]
}

// The container's standard error (JSON log lines) in the log stream and in Log Analytics.
resource webAppLogs 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: webApp
  name: 'logs'
  properties: {
    httpLogs: {
      fileSystem: {
        enabled: true
        retentionInDays: 3
        retentionInMb: 35
      }
    }
  }
  dependsOn: [
    webAppSettings
  ]
}

resource webAppDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'send-logs'
  scope: webApp
  properties: {
    workspaceId: logs.id
    logs: [
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
        enabled: true
      }
    ]
  }
}

// ---------------------------------------------------------------- Azure Bot

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: '${prefix}-bot-${suffix}'
  location: 'global'
  kind: 'azurebot'
  sku: {
    name: botSku
  }
  properties: {
    displayName: 'Send'
    endpoint: '${publicBaseUrl}/api/messages'
    msaAppId: microsoftAppId
    msaAppType: microsoftAppType
    msaAppTenantId: singleTenant ? microsoftAppTenantId : ''
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
    }
  }
}

// ---------------------------------------------------------------- outputs

output webAppName string = webApp.name
output publicBaseUrl string = publicBaseUrl
output botEndpoint string = bot.properties.endpoint
output botName string = bot.name
output registryName string = registry.name
output registryLoginServer string = registry.properties.loginServer
output image string = '${registry.properties.loginServer}/${imageName}:${imageTag}'
output keyVaultName string = vault.name
output cosmosEndpoint string = cosmos.properties.documentEndpoint
output storageAccountName string = storage.name
output amAudience string = actionAudience
output teamsAppId string = teamsAppIdOrDefault
