with

source as (
    {{ latest_version(source('raw', 'files__supplier_terms')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as supplier_term_id,
        trim(_payload ->> 'supplier_id') as supplier_id,
        _payload ->> 'supplier_name' as supplier_name,
        nullif(trim(_payload ->> 'supplier_email'), '') as supplier_email,
        trim(_payload ->> 'sku') as sku,
        {{ json_money('_payload', '$.unit_cost') }} as unit_cost_local,
        upper(trim(_payload ->> 'currency')) as currency,
        cast(nullif(trim(_payload ->> 'lead_time_days'), '') as decimal(10, 2)) as lead_time_days,
        cast(nullif(trim(_payload ->> 'lead_time_std_days'), '') as decimal(10, 2)) as lead_time_std_days,
        cast(cast(nullif(trim(_payload ->> 'moq'), '') as decimal(18, 4)) as integer) as moq,
        cast(cast(nullif(trim(_payload ->> 'case_pack'), '') as decimal(18, 4)) as integer) as case_pack,
        _source_updated_at as updated_at
    from source
)

select * from final
