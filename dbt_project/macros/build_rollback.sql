{#- Rollback of a failed `oms build` at the cost of what the build changes (flows/dbt_runner.py).

    While a build snapshot is open (`_oms_build_backup.__relations` exists: flows.dbt_runner.build
    writes it before dbt starts), the materializations keep what they replace instead of
    throwing it away, so that a failed build can be undone without copying the warehouse first:

    - a table rebuilt whole (table models; incremental models on their first run or with
      --full-refresh; a table that becomes a view) is built into `<name>__dbt_tmp` and swapped
      in by dbt-duckdb, which renames the old table `<name>__dbt_backup` and drops it after the
      commit: that drop is skipped (`duckdb__drop_relation`), the old table stays renamed (DuckDB
      has no `alter table ... set schema`, so it stays in its schema). Restore renames it back;
      success drops it.
    - an increment (delete+insert on `unique_key`) first stashes, in the same transaction, the
      keys it is about to insert (`<schema>__<name>__stash_keys`) and the rows of the target with
      those keys (`<schema>__<name>__stash_rows`, all it can delete) in `_oms_build_backup`.
      Restore deletes the rows with those keys and inserts the stashed ones. A post-hook that
      deletes other rows goes through `oms_reversible_delete`, which stashes them too.
    - the strategies that cannot be undone this way (append, merge, microbatch) refuse to run
      while a snapshot is open, rather than leave a build that cannot be rolled back.

    Without an open snapshot (dbt run by hand) everything behaves as dbt-duckdb's own. -#}

{% macro oms_build_rollback_active() -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query(
        "select count(*) from duckdb_tables() where database_name = current_database()"
        ~ " and schema_name = '_oms_build_backup' and table_name = '__relations'"
    ) -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro oms_stash_relation(relation, part) -%}
    {#- `part`: 'keys' or 'rows'; flows.dbt_runner._stash_name spells the same names -#}
    {{- return('"' ~ relation.database ~ '"._oms_build_backup."' ~ relation.schema ~ '__' ~ relation.identifier ~ '__stash_' ~ part ~ '"') -}}
{%- endmacro %}

{% macro oms_stash_exists(relation) -%}
    {%- set found = run_query(
        "select count(*) from duckdb_tables() where database_name = current_database()"
        ~ " and schema_name = '_oms_build_backup' and table_name = '"
        ~ relation.schema ~ "__" ~ relation.identifier ~ "__stash_keys'"
    ) -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro oms_key_list(unique_key) -%}
    {%- if unique_key is string -%}
        {{ return([unique_key]) }}
    {%- else -%}
        {{ return(unique_key | list) }}
    {%- endif -%}
{%- endmacro %}

{% macro oms_key_match(keys, left, right) -%}
    {%- for key in keys -%}
        {{ left }}.{{ key }} is not distinct from {{ right }}.{{ key }}{{ " and " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}


{#- dbt-duckdb's drop, except for the old table a swap moved aside while a snapshot is open -#}
{% macro duckdb__drop_relation(relation) -%}
    {%- if relation.type == 'table' and relation.identifier.endswith('__dbt_backup')
            and oms_build_rollback_active() -%}
        {{ log("kept " ~ relation ~ " for the rollback of this build", info=False) }}
    {%- else -%}
        {% call statement('drop_relation', auto_begin=False) -%}
            {% if adapter.is_ducklake(relation) %}
                drop {{ relation.type }} if exists {{ relation }}
            {% else %}
                drop {{ relation.type }} if exists {{ relation }} cascade
            {% endif %}
        {%- endcall %}
    {%- endif -%}
{% endmacro %}


{#- delete+insert (dbt's macro, dispatched to dbt-duckdb's), after stashing what it changes -#}
{% macro get_incremental_delete_insert_sql(arg_dict) -%}
    {%- set target_relation = arg_dict["target_relation"] -%}
    {%- set temp_relation = arg_dict["temp_relation"] -%}
    {%- set unique_key = arg_dict["unique_key"] -%}
    {%- if oms_build_rollback_active() -%}
        {%- if not unique_key -%}
            {{ exceptions.raise_compiler_error(
                "delete+insert without unique_key on " ~ target_relation
                ~ " cannot be rolled back by oms build (macros/build_rollback.sql)") }}
        {%- endif -%}
        {%- set keys = oms_key_list(unique_key) -%}
        create table {{ oms_stash_relation(target_relation, 'keys') }} as
            select distinct {{ keys | join(', ') }} from {{ temp_relation }};
        create table {{ oms_stash_relation(target_relation, 'rows') }} as
            select target_rows.* from {{ target_relation }} as target_rows
            where exists (
                select 1 from {{ oms_stash_relation(target_relation, 'keys') }} as stash_keys
                where {{ oms_key_match(keys, 'target_rows', 'stash_keys') }}
            );
    {% endif -%}
    {{ get_delete_insert_merge_sql(
        target_relation, temp_relation, unique_key,
        arg_dict["dest_columns"], arg_dict["incremental_predicates"]) }}
{%- endmacro %}


{#- a post-hook `delete from {{ this }} where <condition>` that the rollback can undo: rows an
    increment did not insert are stashed before they go -#}
{% macro oms_reversible_delete(condition) -%}
    {%- if execute and oms_stash_exists(this) -%}
        {%- set keys = oms_key_list(config.get('unique_key')) -%}
        insert into {{ oms_stash_relation(this, 'rows') }} by name
            select kept.* from {{ this }} as kept
            where ({{ condition }})
              and not exists (
                select 1 from {{ oms_stash_relation(this, 'keys') }} as stash_keys
                where {{ oms_key_match(keys, 'kept', 'stash_keys') }}
              );
    {% endif -%}
    delete from {{ this }} where {{ condition }}
{%- endmacro %}


{#- strategies whose changes the rollback does not know how to undo -#}
{% macro oms_refuse_irreversible(strategy, arg_dict) -%}
    {%- if oms_build_rollback_active() -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy '" ~ strategy ~ "' on " ~ arg_dict["target_relation"]
            ~ " cannot be rolled back by oms build: use delete+insert with a unique_key"
            ~ " (macros/build_rollback.sql)") }}
    {%- endif -%}
{%- endmacro %}

{% macro get_incremental_append_sql(arg_dict) -%}
    {%- do oms_refuse_irreversible('append', arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_append_sql', 'dbt')(arg_dict)) }}
{%- endmacro %}

{% macro get_incremental_merge_sql(arg_dict) -%}
    {%- do oms_refuse_irreversible('merge', arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_merge_sql', 'dbt')(arg_dict)) }}
{%- endmacro %}

{% macro get_incremental_microbatch_sql(arg_dict) -%}
    {%- do oms_refuse_irreversible('microbatch', arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_microbatch_sql', 'dbt')(arg_dict)) }}
{%- endmacro %}
