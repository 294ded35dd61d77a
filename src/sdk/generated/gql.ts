/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query Entities($kind: EntityKind, $first: Int, $after: String) {\n  entities(kind: $kind, first: $first, after: $after) {\n    edges {\n      node {\n        id\n        name\n        kind\n        primaryKey\n        table {\n          schema\n          name\n        }\n        identifiers {\n          type\n          column\n        }\n        relationships {\n          id\n          name\n          kind\n          toEntity {\n            id\n            name\n          }\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation CreateEntity($input: CreateEntityInput!) {\n  createEntity(input: $input) {\n    __typename\n    ... on CreateEntityPayload {\n      entity {\n        id\n        name\n      }\n    }\n    ... on ValidationError {\n      message\n      problems {\n        path\n        message\n        suggestion\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}\n\nmutation CreateRelationship($input: CreateRelationshipInput!) {\n  createRelationship(input: $input) {\n    __typename\n    ... on CreateRelationshipPayload {\n      relationship {\n        id\n        name\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}": typeof types.EntitiesDocument,
    "query Sources($first: Int, $after: String) {\n  sources(first: $first, after: $after) {\n    edges {\n      node {\n        id\n        name\n        connection\n        plannerSchema\n        status\n        lastError\n        checkedAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation CreateSource($input: CreateSourceInput!) {\n  createSource(input: $input) {\n    __typename\n    ... on CreateSourcePayload {\n      source {\n        id\n        name\n        status\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}": typeof types.SourcesDocument,
    "query Viewer {\n  viewer {\n    workspace {\n      id\n      name\n      slug\n    }\n    scopes\n  }\n}": typeof types.ViewerDocument,
};
const documents: Documents = {
    "query Entities($kind: EntityKind, $first: Int, $after: String) {\n  entities(kind: $kind, first: $first, after: $after) {\n    edges {\n      node {\n        id\n        name\n        kind\n        primaryKey\n        table {\n          schema\n          name\n        }\n        identifiers {\n          type\n          column\n        }\n        relationships {\n          id\n          name\n          kind\n          toEntity {\n            id\n            name\n          }\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation CreateEntity($input: CreateEntityInput!) {\n  createEntity(input: $input) {\n    __typename\n    ... on CreateEntityPayload {\n      entity {\n        id\n        name\n      }\n    }\n    ... on ValidationError {\n      message\n      problems {\n        path\n        message\n        suggestion\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}\n\nmutation CreateRelationship($input: CreateRelationshipInput!) {\n  createRelationship(input: $input) {\n    __typename\n    ... on CreateRelationshipPayload {\n      relationship {\n        id\n        name\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}": types.EntitiesDocument,
    "query Sources($first: Int, $after: String) {\n  sources(first: $first, after: $after) {\n    edges {\n      node {\n        id\n        name\n        connection\n        plannerSchema\n        status\n        lastError\n        checkedAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation CreateSource($input: CreateSourceInput!) {\n  createSource(input: $input) {\n    __typename\n    ... on CreateSourcePayload {\n      source {\n        id\n        name\n        status\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}": types.SourcesDocument,
    "query Viewer {\n  viewer {\n    workspace {\n      id\n      name\n      slug\n    }\n    scopes\n  }\n}": types.ViewerDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Entities($kind: EntityKind, $first: Int, $after: String) {\n  entities(kind: $kind, first: $first, after: $after) {\n    edges {\n      node {\n        id\n        name\n        kind\n        primaryKey\n        table {\n          schema\n          name\n        }\n        identifiers {\n          type\n          column\n        }\n        relationships {\n          id\n          name\n          kind\n          toEntity {\n            id\n            name\n          }\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation CreateEntity($input: CreateEntityInput!) {\n  createEntity(input: $input) {\n    __typename\n    ... on CreateEntityPayload {\n      entity {\n        id\n        name\n      }\n    }\n    ... on ValidationError {\n      message\n      problems {\n        path\n        message\n        suggestion\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}\n\nmutation CreateRelationship($input: CreateRelationshipInput!) {\n  createRelationship(input: $input) {\n    __typename\n    ... on CreateRelationshipPayload {\n      relationship {\n        id\n        name\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}"): (typeof documents)["query Entities($kind: EntityKind, $first: Int, $after: String) {\n  entities(kind: $kind, first: $first, after: $after) {\n    edges {\n      node {\n        id\n        name\n        kind\n        primaryKey\n        table {\n          schema\n          name\n        }\n        identifiers {\n          type\n          column\n        }\n        relationships {\n          id\n          name\n          kind\n          toEntity {\n            id\n            name\n          }\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation CreateEntity($input: CreateEntityInput!) {\n  createEntity(input: $input) {\n    __typename\n    ... on CreateEntityPayload {\n      entity {\n        id\n        name\n      }\n    }\n    ... on ValidationError {\n      message\n      problems {\n        path\n        message\n        suggestion\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}\n\nmutation CreateRelationship($input: CreateRelationshipInput!) {\n  createRelationship(input: $input) {\n    __typename\n    ... on CreateRelationshipPayload {\n      relationship {\n        id\n        name\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Sources($first: Int, $after: String) {\n  sources(first: $first, after: $after) {\n    edges {\n      node {\n        id\n        name\n        connection\n        plannerSchema\n        status\n        lastError\n        checkedAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation CreateSource($input: CreateSourceInput!) {\n  createSource(input: $input) {\n    __typename\n    ... on CreateSourcePayload {\n      source {\n        id\n        name\n        status\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}"): (typeof documents)["query Sources($first: Int, $after: String) {\n  sources(first: $first, after: $after) {\n    edges {\n      node {\n        id\n        name\n        connection\n        plannerSchema\n        status\n        lastError\n        checkedAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation CreateSource($input: CreateSourceInput!) {\n  createSource(input: $input) {\n    __typename\n    ... on CreateSourcePayload {\n      source {\n        id\n        name\n        status\n      }\n    }\n    ... on Error {\n      message\n      path\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Viewer {\n  viewer {\n    workspace {\n      id\n      name\n      slug\n    }\n    scopes\n  }\n}"): (typeof documents)["query Viewer {\n  viewer {\n    workspace {\n      id\n      name\n      slug\n    }\n    scopes\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;