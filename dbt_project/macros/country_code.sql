{#- An ISO 3166 alpha-2 code from what an export writes: a code as is (upper-cased), else the
    English name of the country as exports spell it (United Kingdom, EIRE, USA, ...); null when
    empty or unknown, so `region_of` never guesses. -#}
{% macro country_code(text_expr) -%}
    case
        when nullif(trim({{ text_expr }}), '') is null then null
        when regexp_full_match(trim({{ text_expr }}), '[A-Za-z]{2}') then upper(trim({{ text_expr }}))
        else case lower(trim({{ text_expr }}))
            when 'united kingdom' then 'GB' when 'great britain' then 'GB' when 'uk' then 'GB'
            when 'eire' then 'IE' when 'ireland' then 'IE'
            when 'germany' then 'DE' when 'deutschland' then 'DE' when 'france' then 'FR'
            when 'netherlands' then 'NL' when 'the netherlands' then 'NL' when 'nederland' then 'NL'
            when 'belgium' then 'BE' when 'spain' then 'ES' when 'portugal' then 'PT'
            when 'italy' then 'IT' when 'austria' then 'AT' when 'switzerland' then 'CH'
            when 'norway' then 'NO' when 'sweden' then 'SE' when 'denmark' then 'DK'
            when 'finland' then 'FI' when 'iceland' then 'IS' when 'poland' then 'PL'
            when 'greece' then 'GR' when 'cyprus' then 'CY' when 'malta' then 'MT'
            when 'czech republic' then 'CZ' when 'czechia' then 'CZ' when 'lithuania' then 'LT'
            when 'luxembourg' then 'LU' when 'channel islands' then 'JE'
            when 'usa' then 'US' when 'united states' then 'US' when 'canada' then 'CA'
            when 'australia' then 'AU' when 'japan' then 'JP' when 'singapore' then 'SG'
            when 'israel' then 'IL' when 'brazil' then 'BR' when 'south africa' then 'ZA'
            when 'united arab emirates' then 'AE' when 'saudi arabia' then 'SA'
            when 'lebanon' then 'LB' when 'bahrain' then 'BH' when 'hong kong' then 'HK'
        end
    end
{%- endmacro %}
